"""A worker's API server certificate, signed by a control-plane node for the machine token.

A node whose config holds no OS CA key (a worker) cannot issue its own API certificate. At every
boot it makes an ECDSA P-256 key, kept in memory only, and asks the trust port of a control-plane
node — the host of ``cluster.controlPlane.endpoint``, port 50001 — to sign a request for its
names, presenting the config's ``machine.token``. It believes that node only if its server
certificate comes from the OS CA of its own config (``machine.ca.crt``), and takes the answer
only if it is that CA's certificate for its own key. Until then it asks again, waiting longer
each time (up to :data:`MAX_DELAY`), and says what it waits for in its machine status.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiln.machined.api.identity import MAINTENANCE_NAME, ServerIdentity
from kiln.machined.api.tls import split_names
from kiln.machined.errors import CertificateRequestError
from kiln.machinery.api import security_pb2, security_pb2_grpc
from kiln.machinery.config import MachineConfig
from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets import Certificate, KeyAlgorithm, KeyPair
from kiln.machinery.secrets.keys import b64_to_pem, public_key_der

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 15.0
CALL_TIMEOUT = 10.0

Waiting = Callable[[str], Awaitable[None]]


def trust_address(config: MachineConfig, port: int) -> str:
    """Where to ask: the control-plane endpoint's host, at the trust port."""
    host = urlsplit(str(config.machine_config.cluster.control_plane.endpoint)).hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def obtain_identity(
    config: MachineConfig, names: Iterable[str], address: str, waiting: Waiting
) -> ServerIdentity:
    """Ask ``address`` until it signs a certificate for ``names``; ``waiting`` hears why not."""
    wanted = list(names)
    delay = FIRST_DELAY
    last = ""
    while True:
        try:
            identity = await request(config, wanted, address)
        except CertificateRequestError as err:
            if str(err) != last:
                logger.warning("no API certificate yet: %s (asking again)", err)
                last = str(err)
            await waiting(f"an API certificate from a control-plane node: {err}")
        else:
            logger.info("API certificate signed by the control-plane node at %s", address)
            return identity
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)


async def request(config: MachineConfig, names: list[str], address: str) -> ServerIdentity:
    """One request to ``address``; CertificateRequestError if it is refused or fails."""
    machine = config.machine_config.machine
    try:
        ca = b64_to_pem(machine.ca.crt, "machine.ca.crt")
    except SecretsError as exc:
        raise CertificateRequestError(str(exc)) from None
    key = KeyPair.generate(KeyAlgorithm.ECDSA_P256)
    wanted = list(dict.fromkeys([*names, *(str(name) for name in machine.cert_sans)]))
    ask = security_pb2.CertificateRequest(csr=signing_request(key, wanted), token=machine.token)
    async with grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca)) as channel:
        stub = security_pb2_grpc.SecurityServiceStub(channel)
        try:
            answer = await stub.Certificate(ask, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as err:
            details = err.details() or err.code().name.lower()
            raise CertificateRequestError(f"{address}: {err.code().name}: {details}") from None
    check_issued(answer.crt, key, ca, address)
    return ServerIdentity(key.pem, answer.crt, client_ca=ca)


def signing_request(key: KeyPair, names: Iterable[str]) -> bytes:
    """A PEM signing request of ``key`` for the DNS names and addresses among ``names``."""
    dns, ips = split_names(names)
    private = key.private_key()
    assert isinstance(private, ec.EllipticCurvePrivateKey)  # generated as ECDSA P-256 above
    common = (dns or ips or [MAINTENANCE_NAME])[0][:64]
    alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    alternatives += [x509.IPAddress(ipaddress.ip_address(address)) for address in ips]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common)]))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(private, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def check_issued(pem: bytes, key: KeyPair, ca: bytes, address: str) -> None:
    """CertificateRequestError unless ``pem`` is the OS CA's certificate for ``key``."""
    try:
        issued = Certificate.from_pem(pem, f"{address}: the certificate").x509()
        issued.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    except (SecretsError, ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateRequestError(f"{address} answered with a bad certificate: {exc}") from None
    if public_key_der(key.public_key()) != _public_der(issued):
        raise CertificateRequestError(f"{address} answered with a certificate for another key")


def _public_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
