"""Self-signed server certificates: what a client pins instead of trusting a CA (a node in
maintenance mode, the hub's API and machine ports)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiln.machinery.secrets.keys import KeyAlgorithm, KeyPair
from kiln.machinery.secrets.pki import CLOCK_SKEW, Certificate, IssuedCertificate


def self_signed_server(
    common_name: str, valid_for: timedelta, *, dns_names: Sequence[str] = ()
) -> IssuedCertificate:
    """A new ECDSA P-256 key and a self-signed server certificate for ``common_name`` (its
    first DNS name) and ``dns_names``."""
    pair = KeyPair.generate(KeyAlgorithm.ECDSA_P256)
    private = pair.private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    names = [x509.DNSName(dns) for dns in dict.fromkeys([common_name, *dns_names])]
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(private, hashes.SHA256())
    )
    return IssuedCertificate(Certificate(cert.public_bytes(serialization.Encoding.PEM)), pair)
