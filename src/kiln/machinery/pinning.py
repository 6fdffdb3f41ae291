"""TLS with a pinned certificate: fetch what a server presents, and gRPC credentials that trust
exactly one self-signed certificate (a node in maintenance mode, the hub).

Kept apart from the machine API client so that the node daemon can use it without loading the
client's kilnconfig.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.machinery.errors import MachineryError

FETCH_TIMEOUT = 10.0


class PinningError(MachineryError):
    """A server's certificate could not be fetched."""


@dataclass(frozen=True)
class ChannelSecurity:
    """Credentials plus the channel options they need (a target name override)."""

    credentials: grpc.ChannelCredentials
    options: tuple[tuple[str, str], ...] = ()


def trusting(pem: bytes, client: tuple[bytes, bytes] | None = None) -> ChannelSecurity:
    """Credentials that trust exactly the self-signed certificate ``pem``, under the name it
    was issued for; with ``client`` (key, certificate), presenting that client certificate."""
    name = name_of(x509.load_pem_x509_certificate(pem))
    options = (("grpc.ssl_target_name_override", name),) if name else ()
    key, crt = client if client is not None else (None, None)
    return ChannelSecurity(grpc.ssl_channel_credentials(pem, key, crt), options)


async def fetch_certificate(host: str, port: int) -> bytes:
    """The DER certificate a TLS server at ``host:port`` presents, unverified (the caller
    pins or checks it); PinningError if there is none to fetch."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            _, writer = await asyncio.open_connection(host, port, ssl=context)
    except TimeoutError:
        raise PinningError(f"{address}: no TLS handshake within {FETCH_TIMEOUT:g}s") from None
    except (OSError, ssl.SSLError) as exc:
        raise PinningError(f"{address}: cannot connect: {exc.strerror or exc}") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise PinningError(f"{address}: the server sent no certificate")
    return bytes(der)


def name_of(certificate: x509.Certificate) -> str:
    with contextlib.suppress(x509.ExtensionNotFound):
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = names.value.get_values_for_type(x509.DNSName)
        if dns:
            return dns[0]
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else ""
