"""Random tokens and symmetric keys, all from the ``secrets`` module."""

from __future__ import annotations

import base64
import re
import secrets
import string

TOKEN_ALPHABET = string.ascii_lowercase + string.digits
BOOTSTRAP_TOKEN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
MACHINE_TOKEN_LENGTH = 32


def random_text(length: int) -> str:
    """``length`` characters of lowercase letters and digits."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))


def bootstrap_token() -> str:
    """A Kubernetes bootstrap token: ``[a-z0-9]{6}.[a-z0-9]{16}`` (id and secret)."""
    return f"{random_text(6)}.{random_text(16)}"


def machine_token() -> str:
    """The token machines present to join the cluster's trust domain."""
    return random_text(MACHINE_TOKEN_LENGTH)


def secretbox_key() -> str:
    """A 32-byte key for Kubernetes secretbox encryption at rest, base64."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def cluster_identifier() -> str:
    """32 random bytes, base64url without padding: a cluster id or cluster secret."""
    return secrets.token_urlsafe(32)
