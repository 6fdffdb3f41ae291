"""Certificate authorities and the certificates they issue.

A :class:`CertificateAuthority` is a self-signed CA certificate and its key. It issues leaf
certificates for a :class:`Usage` (server, client or peer) with the key usages that role needs,
subject alternative names and an Organization list (a client's role). Everything is held as PEM
bytes; ``to_b64``/``from_b64`` give the base64-PEM encoding of config files.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets.keys import (
    KeyAlgorithm,
    KeyPair,
    PrivateKey,
    PublicKey,
    b64_to_pem,
    pem_to_b64,
    public_key_der,
)

CLOCK_SKEW = timedelta(minutes=5)
"""Certificates start this long before they are made, so skewed clocks accept them at once."""

CA_VALIDITY = timedelta(days=3650)


class Usage(StrEnum):
    """What a leaf certificate is for; decides its extended key usages."""

    SERVER = "server"
    CLIENT = "client"
    PEER = "peer"  # both ends of a connection (etcd peers)

    def extended_key_usages(self) -> list[x509.ObjectIdentifier]:
        server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
        return {Usage.SERVER: [server], Usage.CLIENT: [client], Usage.PEER: [server, client]}[self]


@dataclass(frozen=True)
class Certificate:
    """An X.509 certificate in PEM."""

    pem: bytes

    @classmethod
    def from_pem(cls, pem: bytes, what: str = "certificate") -> Certificate:
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise SecretsError(f"{what}: not a valid PEM certificate ({exc})") from None
        return cls(pem)

    @classmethod
    def from_b64(cls, text: str, what: str = "certificate") -> Certificate:
        return cls.from_pem(b64_to_pem(text, what), what)

    def to_b64(self) -> str:
        return pem_to_b64(self.pem)

    def x509(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem)

    @property
    def common_name(self) -> str:
        """The subject's Common Name ("" if it has none)."""
        names = _name_values(self.x509().subject, NameOID.COMMON_NAME)
        return names[0] if names else ""

    @property
    def organizations(self) -> list[str]:
        return _name_values(self.x509().subject, NameOID.ORGANIZATION_NAME)

    @property
    def not_after(self) -> datetime:
        return self.x509().not_valid_after_utc

    def fingerprint(self) -> str:
        """SHA-256 fingerprint as colon-separated hex, the form ``openssl x509`` prints."""
        digest = self.x509().fingerprint(hashes.SHA256())
        return ":".join(f"{byte:02X}" for byte in digest)


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate and its private key."""

    certificate: Certificate
    key: KeyPair


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and the key that signs with it."""

    certificate: Certificate
    key: KeyPair

    @classmethod
    def generate(
        cls,
        common_name: str,
        algorithm: KeyAlgorithm,
        valid_for: timedelta = CA_VALIDITY,
        *,
        organizations: Sequence[str] = (),
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """A new self-signed CA that may issue leaf certificates only (path length 0)."""
        key = algorithm.generate()
        public = key.public_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(public)
        subject = _name(common_name, organizations)
        builder = (
            _builder(subject, subject, public, valid_for, now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(ski, critical=False)
        )
        cert = builder.sign(key, _hash_for(key))
        return cls(
            Certificate(cert.public_bytes(serialization.Encoding.PEM)),
            KeyPair.from_private_key(key),
        )

    @classmethod
    def from_pem(cls, crt: bytes, key: bytes, what: str = "CA") -> CertificateAuthority:
        """Load a CA, checking that it is a CA and that the key belongs to the certificate."""
        certificate = Certificate.from_pem(crt, f"{what} certificate")
        pair = KeyPair.from_pem(key, f"{what} key")
        parsed = certificate.x509()
        try:
            constraints = parsed.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise SecretsError(f"{what} certificate is not a CA certificate")
        if public_key_der(_public_key(parsed)) != public_key_der(pair.public_key()):
            raise SecretsError(f"{what} key does not match its certificate")
        return cls(certificate, pair)

    @classmethod
    def from_b64(cls, crt: str, key: str, what: str = "CA") -> CertificateAuthority:
        return cls.from_pem(
            b64_to_pem(crt, f"{what} certificate"), b64_to_pem(key, f"{what} key"), what
        )

    def issue(
        self,
        common_name: str,
        usage: Usage,
        valid_for: timedelta,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256,
        now: datetime | None = None,
    ) -> IssuedCertificate:
        """A new key and a certificate for it, signed by this CA.

        Leaf keys default to ECDSA P-256: gRPC's TLS stack (BoringSSL in grpcio) offers no
        signature algorithm for Ed25519 leaf keys and fails the handshake, while it verifies
        an Ed25519 CA's signature on an ECDSA leaf without trouble.
        """
        key = KeyPair.generate(algorithm)
        certificate = self.sign(
            key.public_key(),
            common_name,
            usage,
            valid_for,
            organizations=organizations,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            now=now,
        )
        return IssuedCertificate(certificate, key)

    def sign(
        self,
        public_key: PublicKey,
        common_name: str,
        usage: Usage,
        valid_for: timedelta,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Certificate:
        """A certificate for someone else's public key (e.g. from a signing request)."""
        ca_cert = self.certificate.x509()
        ca_public = _public_key(ca_cert)
        builder = (
            _builder(_name(common_name, organizations), ca_cert.subject, public_key, valid_for, now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usage.extended_key_usages()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
            )
        )
        names = _subject_alt_names(dns_names, ip_addresses)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        signer = self.key.private_key()
        cert = builder.sign(signer, _hash_for(signer))
        return Certificate(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, organizations: Sequence[str]) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _name_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    valid_for: timedelta,
    now: datetime | None,
) -> x509.CertificateBuilder:
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - CLOCK_SKEW)
        .not_valid_after(start + valid_for)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _public_key(cert: x509.Certificate) -> PublicKey:
    public = cert.public_key()
    if isinstance(public, PublicKey):
        return public
    raise SecretsError(f"unsupported key type in certificate {cert.subject.rfc4514_string()}")


def _subject_alt_names(
    dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    for address in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise SecretsError(f"{address!r} is not an IP address") from None
    return names
