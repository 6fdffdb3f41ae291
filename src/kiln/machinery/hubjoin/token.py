"""The join token's text: ``<id>.<secret>.<pin>`` (see the package docstring)."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
from dataclasses import dataclass

from kiln.machinery.errors import MachineryError

_PART = re.compile(r"^[A-Za-z0-9_-]+$")
PIN_LENGTH = 43  # base64url of 32 bytes, unpadded


class TokenError(MachineryError):
    """A join token is malformed."""


def certificate_pin(pem: bytes) -> str:
    """The pin of a PEM certificate: SHA-256 of its DER, base64url without padding."""
    der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class JoinToken:
    id: str
    secret: str
    pin: str

    @property
    def credential(self) -> str:
        """What the machine sends the hub: id and secret, without the pin."""
        return f"{self.id}.{self.secret}"

    def __str__(self) -> str:
        return f"{self.id}.{self.secret}.{self.pin}"


def parse_join_token(text: str) -> JoinToken:
    """Split a join token; TokenError saying what is wrong (never echoing the secret)."""
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(_PART.match(part) for part in parts):
        raise TokenError("the join token is malformed: expected ID.SECRET.PIN")
    token = JoinToken(*parts)
    if len(token.pin) != PIN_LENGTH:
        raise TokenError("the join token is malformed: its pin is not a SHA-256 (43 characters)")
    return token
