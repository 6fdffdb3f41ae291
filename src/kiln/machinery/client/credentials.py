"""TLS for the client's channel: mutual TLS with the OS CA, or insecure for maintenance mode.

gRPC cannot skip server verification, so an insecure connection first fetches the node's
certificate with a plain TLS handshake and then pins it: the channel trusts exactly that
certificate, under the name it was issued for. A node in maintenance mode serves a self-signed
certificate; one that is not self-signed belongs to a configured node, which accepts only
clients with a certificate from its cluster, so :func:`fetch_maintenance_certificate` says so
instead of letting the call fail obscurely.
"""

from __future__ import annotations

import ssl

import grpc
from cryptography import x509

from kiln.machinery.client.errors import ClientError
from kiln.machinery.client.target import MutualTLS, Target
from kiln.machinery.pinning import ChannelSecurity, PinningError, fetch_certificate, name_of
from kiln.machinery.pinning import trusting as trusting


def mutual(tls: MutualTLS) -> ChannelSecurity:
    return ChannelSecurity(grpc.ssl_channel_credentials(tls.ca, tls.key, tls.crt))


async def pinned(target: Target) -> ChannelSecurity:
    """Credentials that trust the certificate the node serves now (maintenance mode only)."""
    pem, _ = await fetch_maintenance_certificate(target)
    return trusting(pem)


async def fetch_maintenance_certificate(target: Target) -> tuple[bytes, str]:
    """The PEM certificate the node serves and a name it is valid for; ClientError if it
    cannot be fetched or is not a maintenance-mode (self-signed) certificate."""
    try:
        der = await fetch_certificate(target.host, target.port)
    except PinningError as exc:
        raise ClientError(str(exc)) from None
    certificate = x509.load_der_x509_certificate(der)
    if certificate.issuer != certificate.subject:
        raise ClientError(
            f"{target.address} is not in maintenance mode: it accepts only client "
            "certificates from its cluster (drop --insecure and use a kilnconfig context)"
        )
    return ssl.DER_cert_to_PEM_cert(der).encode(), name_of(certificate)
