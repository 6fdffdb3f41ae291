"""API key and join token secrets: random text shown once, kept as SHA-256.

An API key reads ``khk.<id>.<secret>``; a join token ``<id>.<secret>.<pin>``
(:mod:`kiln.machinery.hubjoin`). Secrets are 32 random bytes, so a plain SHA-256 is enough to
keep them (nothing to brute-force); comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "khk"


def new_id() -> str:
    return secrets.token_hex(4)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)


def format_api_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}.{key_id}.{secret}"


def split_api_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of an API key's text, or None if it is not one."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]
