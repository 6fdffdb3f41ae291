"""TLS for the client's channel: mutual TLS with the OS CA, or insecure for maintenance mode.

gRPC cannot skip server verification, so an insecure connection first fetches the node's
certificate with a plain TLS handshake and then pins it: the channel trusts exactly that
certificate, under the name it was issued for. A node in maintenance mode serves a self-signed
certificate; one that is not self-signed belongs to a configured node, which accepts only
clients with a certificate from its cluster, so :func:`fetch_maintenance_certificate` says so
instead of letting the call fail obscurely.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.machinery.client.errors import ClientError
from kiln.machinery.client.target import MutualTLS, Target

FETCH_TIMEOUT = 10.0


@dataclass(frozen=True)
class ChannelSecurity:
    """Credentials plus the channel options they need (a target name override)."""

    credentials: grpc.ChannelCredentials
    options: tuple[tuple[str, str], ...] = ()


def mutual(tls: MutualTLS) -> ChannelSecurity:
    return ChannelSecurity(grpc.ssl_channel_credentials(tls.ca, tls.key, tls.crt))


async def pinned(target: Target) -> ChannelSecurity:
    """Credentials that trust the certificate the node serves now (maintenance mode only)."""
    pem, _ = await fetch_maintenance_certificate(target)
    return trusting(pem)


def trusting(pem: bytes, client: tuple[bytes, bytes] | None = None) -> ChannelSecurity:
    """Credentials that trust exactly the self-signed certificate ``pem``, under the name it
    was issued for; with ``client`` (key, certificate), presenting that client certificate."""
    name = _name(x509.load_pem_x509_certificate(pem))
    options = (("grpc.ssl_target_name_override", name),) if name else ()
    key, crt = client if client is not None else (None, None)
    return ChannelSecurity(grpc.ssl_channel_credentials(pem, key, crt), options)


async def fetch_maintenance_certificate(target: Target) -> tuple[bytes, str]:
    """The PEM certificate the node serves and a name it is valid for; ClientError if it
    cannot be fetched or is not a maintenance-mode (self-signed) certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            _, writer = await asyncio.open_connection(target.host, target.port, ssl=context)
    except TimeoutError:
        raise ClientError(f"{target.address}: no TLS handshake within {FETCH_TIMEOUT:g}s") from None
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"{target.address}: cannot connect: {exc.strerror or exc}") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise ClientError(f"{target.address}: the node sent no certificate")
    certificate = x509.load_der_x509_certificate(der)
    if certificate.issuer != certificate.subject:
        raise ClientError(
            f"{target.address} is not in maintenance mode: it accepts only client "
            "certificates from its cluster (drop --insecure and use a kilnconfig context)"
        )
    return ssl.DER_cert_to_PEM_cert(der).encode(), _name(certificate)


def _name(certificate: x509.Certificate) -> str:
    with contextlib.suppress(x509.ExtensionNotFound):
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = names.value.get_values_for_type(x509.DNSName)
        if dns:
            return dns[0]
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else ""
