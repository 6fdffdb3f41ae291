"""Private keys: the algorithms Kiln uses and a PEM holder with the config's base64 encoding.

Config files and secrets bundles carry keys and certificates as base64-encoded PEM (one line of
YAML). :func:`pem_to_b64` and :func:`b64_to_pem` are that encoding, used by every holder.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiln.machinery.errors import SecretsError

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class KeyAlgorithm(StrEnum):
    """The key types Kiln generates."""

    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"

    def generate(self) -> PrivateKey:
        if self is KeyAlgorithm.ED25519:
            return ed25519.Ed25519PrivateKey.generate()
        return ec.generate_private_key(ec.SECP256R1())


def pem_to_b64(pem: bytes) -> str:
    """PEM bytes as the one-line base64 text configs carry."""
    return base64.b64encode(pem).decode("ascii")


def b64_to_pem(text: str, what: str) -> bytes:
    """Decode base64-encoded PEM; SecretsError naming ``what`` if it is not that."""
    try:
        pem = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise SecretsError(f"{what}: not valid base64") from None
    if not pem.startswith(b"-----BEGIN "):
        raise SecretsError(f"{what}: not base64-encoded PEM")
    return pem


def public_key_der(key: PublicKey) -> bytes:
    """A public key as DER SubjectPublicKeyInfo, for comparing keys."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes, what: str) -> PrivateKey:
    """Parse an unencrypted PEM private key of a supported type."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SecretsError(f"{what}: not a valid unencrypted PEM private key ({exc})") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise SecretsError(f"{what}: unsupported key type (Kiln uses Ed25519 and ECDSA P-256)")


@dataclass(frozen=True)
class KeyPair:
    """A private key (PKCS#8 PEM); the public half is derived from it."""

    pem: bytes

    @classmethod
    def generate(cls, algorithm: KeyAlgorithm) -> KeyPair:
        return cls.from_private_key(algorithm.generate())

    @classmethod
    def from_private_key(cls, key: PrivateKey) -> KeyPair:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(pem)

    @classmethod
    def from_pem(cls, pem: bytes, what: str = "private key") -> KeyPair:
        load_private_key(pem, what)
        return cls(pem)

    @classmethod
    def from_b64(cls, text: str, what: str = "private key") -> KeyPair:
        return cls.from_pem(b64_to_pem(text, what), what)

    def to_b64(self) -> str:
        return pem_to_b64(self.pem)

    def private_key(self) -> PrivateKey:
        return load_private_key(self.pem, "private key")

    def public_key(self) -> PublicKey:
        return self.private_key().public_key()

    @property
    def algorithm(self) -> KeyAlgorithm:
        if isinstance(self.private_key(), ed25519.Ed25519PrivateKey):
            return KeyAlgorithm.ED25519
        return KeyAlgorithm.ECDSA_P256
