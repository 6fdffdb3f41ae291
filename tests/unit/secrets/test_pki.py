"""Certificate authorities and issued certificates, checked by cryptography and by openssl."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets import (
    Certificate,
    CertificateAuthority,
    KeyAlgorithm,
    KeyPair,
    Usage,
)
from kiln.machinery.secrets.pki import CLOCK_SKEW

OpensslVerify = Callable[..., None]
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
YEAR = timedelta(days=365)


@pytest.fixture(params=list(KeyAlgorithm))
def ca(request: pytest.FixtureRequest) -> CertificateAuthority:
    algorithm: KeyAlgorithm = request.param
    return CertificateAuthority.generate("test-ca", algorithm)


def test_ca_is_self_signed_and_openssl_accepts_it(
    ca: CertificateAuthority, openssl_verify: OpensslVerify
) -> None:
    cert = ca.certificate.x509()
    cert.verify_directly_issued_by(cert)
    openssl_verify(ca.certificate, ca.certificate)


def test_ca_extensions(ca: CertificateAuthority) -> None:
    cert = ca.certificate.x509()
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


@pytest.mark.parametrize(
    ("usage", "purpose", "ekus"),
    [
        (Usage.SERVER, "sslserver", {ExtendedKeyUsageOID.SERVER_AUTH}),
        (Usage.CLIENT, "sslclient", {ExtendedKeyUsageOID.CLIENT_AUTH}),
        (
            Usage.PEER,
            "sslserver",
            {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH},
        ),
        (
            Usage.PEER,
            "sslclient",
            {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH},
        ),
    ],
)
def test_issued_certificate_verifies_for_its_purpose(
    ca: CertificateAuthority,
    openssl_verify: OpensslVerify,
    usage: Usage,
    purpose: str,
    ekus: set[x509.ObjectIdentifier],
) -> None:
    issued = ca.issue(
        "node-1",
        usage,
        YEAR,
        dns_names=["node-1.example.com"],
        ip_addresses=["10.5.0.2", "fd00::2"],
    )
    cert = issued.certificate.x509()
    cert.verify_directly_issued_by(ca.certificate.x509())
    openssl_verify(ca.certificate, issued.certificate, purpose)
    assert set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == ekus
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["node-1.example.com"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ip_address("10.5.0.2"),
        ip_address("fd00::2"),
    ]


def test_leaf_names_its_issuer_key(ca: CertificateAuthority) -> None:
    leaf = ca.issue("x", Usage.SERVER, YEAR).certificate.x509()
    ski = ca.certificate.x509().extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert aki.value.key_identifier == ski.value.digest


def test_validity_is_backdated_for_clock_skew(ca: CertificateAuthority) -> None:
    cert = ca.issue("x", Usage.CLIENT, YEAR, now=NOW).certificate.x509()
    assert cert.not_valid_before_utc == NOW - CLOCK_SKEW
    assert cert.not_valid_after_utc == NOW + YEAR


def test_subject_carries_organizations_and_serials_are_random(ca: CertificateAuthority) -> None:
    first = ca.issue("admin", Usage.CLIENT, YEAR, organizations=["os:admin", "extra"]).certificate
    second = ca.issue("admin", Usage.CLIENT, YEAR).certificate
    assert first.common_name == "admin"
    assert first.organizations == ["os:admin", "extra"]
    assert first.x509().serial_number != second.x509().serial_number


def test_issued_key_algorithm() -> None:
    ca = CertificateAuthority.generate("ca", KeyAlgorithm.ED25519)
    issued = ca.issue("x", Usage.SERVER, YEAR, algorithm=KeyAlgorithm.ECDSA_P256)
    assert isinstance(issued.certificate.x509().public_key(), ec.EllipticCurvePublicKey)
    assert issued.key.algorithm is KeyAlgorithm.ECDSA_P256
    assert isinstance(ca.key.private_key(), ed25519.Ed25519PrivateKey)


def test_base64_round_trip(ca: CertificateAuthority) -> None:
    loaded = CertificateAuthority.from_b64(ca.certificate.to_b64(), ca.key.to_b64())
    assert loaded == ca
    assert loaded.certificate.fingerprint() == ca.certificate.fingerprint()


def test_ca_with_another_key_is_refused(ca: CertificateAuthority) -> None:
    other = KeyPair.generate(KeyAlgorithm.ED25519)
    with pytest.raises(SecretsError, match="key does not match its certificate"):
        CertificateAuthority.from_pem(ca.certificate.pem, other.pem, "my CA")


def test_leaf_is_not_a_ca(ca: CertificateAuthority) -> None:
    leaf = ca.issue("x", Usage.SERVER, YEAR)
    with pytest.raises(SecretsError, match="not a CA certificate"):
        CertificateAuthority.from_pem(leaf.certificate.pem, leaf.key.pem)


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!", "not valid base64"), ("aGVsbG8=", "not base64-encoded PEM")],
)
def test_bad_base64_pem_is_refused(text: str, message: str) -> None:
    with pytest.raises(SecretsError, match=message):
        Certificate.from_b64(text)
    with pytest.raises(SecretsError, match=message):
        KeyPair.from_b64(text)


def test_garbage_pem_is_refused() -> None:
    with pytest.raises(SecretsError, match="not a valid PEM certificate"):
        Certificate.from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(SecretsError, match="not a valid unencrypted PEM private key"):
        KeyPair.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_unsupported_key_type_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(SecretsError, match="unsupported key type"):
        KeyPair.from_pem(pem)


def test_bad_ip_san_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(SecretsError, match=r"'10\.0\.0\.300' is not an IP address"):
        ca.issue("x", Usage.SERVER, YEAR, ip_addresses=["10.0.0.300"])
