"""The SecurityService of control-plane nodes: API server certificates for the machine token.

A node without the OS CA key (a worker) sends a certificate signing request and the cluster's
machine token to a control-plane node's trust port (:mod:`~kiln.machined.api.trust`). When the
token equals the config's ``machine.token`` (compared in constant time), the node signs the
request's public key with the OS CA and answers with the certificate and the CA's.

What is issued is deliberately narrow: server authentication only (a client presenting it gets
no role: it has no Organization and no client usage), valid as long as a controlplane's own API
certificate, for the names the request asks for within :func:`requested_names` — DNS names and
IP addresses only, no wildcards, no unspecified addresses, at most :data:`MAX_NAMES`. Nobody
can check that a name is really the requester's, so the token is what vouches for it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kiln.machined.api.tls import SERVER_VALIDITY
from kiln.machined.errors import AccessDeniedError, InvalidRequestError
from kiln.machinery.api import security_pb2, security_pb2_grpc
from kiln.machinery.secrets import CertificateAuthority, Usage

logger = logging.getLogger(__name__)

Context = Any  # grpc.aio.ServicerContext; the interceptor has checked it already

MAX_NAMES = 32
MAX_CSR_BYTES = 16 * 1024
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SecurityService(security_pb2_grpc.SecurityServiceServicer):
    """Signs API server certificates for holders of the machine token (module docstring)."""

    def __init__(self, authority: CertificateAuthority, token: str) -> None:
        self._authority = authority
        self._token = token.encode()

    async def Certificate(
        self, request: security_pb2.CertificateRequest, context: Context
    ) -> security_pb2.CertificateResponse:
        peer = context.peer()
        if not hmac.compare_digest(request.token.encode(), self._token):
            logger.warning("refused a certificate request from %s: wrong machine token", peer)
            raise AccessDeniedError("the machine token is not this cluster's: no certificate")
        csr = parse_request(request.csr)
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise InvalidRequestError("the request's key must be ECDSA P-256")
        dns, ips = requested_names(csr)
        certificate = self._authority.sign(
            public_key,
            (dns or ips)[0][:64],
            Usage.SERVER,
            SERVER_VALIDITY,
            dns_names=dns,
            ip_addresses=ips,
        )
        logger.info("issued an API server certificate to %s for %s", peer, ", ".join(dns + ips))
        return security_pb2.CertificateResponse(
            crt=certificate.pem, ca=self._authority.certificate.pem
        )


def parse_request(pem: bytes) -> x509.CertificateSigningRequest:
    """The PEM signing request, its signature checked; InvalidRequestError if it is not one."""
    if len(pem) > MAX_CSR_BYTES:
        raise InvalidRequestError(f"the signing request is larger than {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise InvalidRequestError(f"not a PEM certificate signing request ({exc})") from None
    if not csr.is_signature_valid:
        raise InvalidRequestError("the signing request's signature does not match its key")
    return csr


def requested_names(csr: x509.CertificateSigningRequest) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses the request asks for; InvalidRequestError if it asks for
    none, too many, wildcards, unspecified addresses or names of another kind."""
    try:
        extension = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise InvalidRequestError("the request names no address or hostname") from None
    names = extension.value
    dns: list[str] = []
    ips: list[str] = []
    for name in names:
        if isinstance(name, x509.DNSName):
            dns.append(_hostname(name.value))
        elif isinstance(name, x509.IPAddress):
            address = name.value
            if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
                raise InvalidRequestError(f"{address} is a network, not an address")
            if address.is_unspecified or address.is_multicast:
                raise InvalidRequestError(f"{address} is not an address a server answers on")
            ips.append(str(address))
        else:
            raise InvalidRequestError(f"only DNS names and IP addresses are issued, not {name}")
    if not dns and not ips:
        raise InvalidRequestError("the request names no address or hostname")
    if len(dns) + len(ips) > MAX_NAMES:
        raise InvalidRequestError(f"the request names more than {MAX_NAMES} addresses and hosts")
    return dns, ips


def _hostname(name: str) -> str:
    lowered = name.lower().rstrip(".")
    if "*" in lowered:
        raise InvalidRequestError(f"{name!r}: wildcard names are not issued")
    if len(lowered) > 253 or not all(_LABEL.match(label) for label in lowered.split(".")):
        raise InvalidRequestError(f"{name!r} is not a hostname")
    return lowered
