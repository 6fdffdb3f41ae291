"""What API keys and join tokens share: the hash of a secret, an expiry, a revocation."""

from __future__ import annotations

from datetime import datetime

from kiln.machinery.resources.spec import Spec


class CredentialSpec(Spec):
    secret_hash: str
    expires: datetime | None = None
    revoked: bool = False
    description: str = ""
