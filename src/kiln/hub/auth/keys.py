"""API keys: create (shown once), list, revoke, and authenticate a call's key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.hub import clock
from kiln.hub.auth import credentials, secrets
from kiln.hub.auth.roles import HubRole
from kiln.hub.errors import UnauthenticatedError
from kiln.hub.resources import ApiKeySpec
from kiln.resources import AlreadyExistsError, Kind, Resource, State

INITIAL_ADMIN = "initial admin key"
#: The initial admin key's id: fixed, so that replicas starting together on an empty
#: database make one initial key between them (the others' creations fail).
INITIAL_ADMIN_ID = "admin0"
WHAT = "API key"


@dataclass(frozen=True)
class Caller:
    """Who makes a call: an API key's id and role (audit and permission checks)."""

    key_id: str
    role: HubRole

    def __str__(self) -> str:
        return f"key:{self.key_id} ({self.role.value})"


class ApiKeys:
    def __init__(self, state: State) -> None:
        self._state = state

    async def create(
        self, role: HubRole, expires_seconds: int = 0, description: str = "", key_id: str = ""
    ) -> tuple[str, str]:
        """A new key: its id and its text (the only time the secret is seen)."""
        key_id, secret = key_id or secrets.new_id(), secrets.new_secret()
        spec = ApiKeySpec(
            role=role.value,
            secret_hash=secrets.digest(secret),
            expires=clock.expiry(expires_seconds),
            description=description,
        )
        await self._state.create(Resource.new(key_id, spec))
        return key_id, secrets.format_api_key(key_id, secret)

    async def ensure_initial_admin(self) -> str | None:
        """On first start (no key at all): an admin key's text; None otherwise."""
        if await self._state.list(Kind.of(ApiKeySpec)):
            return None
        try:
            _, text = await self.create(
                HubRole.ADMIN, description=INITIAL_ADMIN, key_id=INITIAL_ADMIN_ID
            )
        except AlreadyExistsError:  # another replica made it a moment ago
            return None
        return text

    async def list(self) -> list[Resource[Any]]:
        return await self._state.list(Kind.of(ApiKeySpec))

    async def revoke(self, key_id: str) -> None:
        await credentials.revoke(self._state, ApiKeySpec, key_id, WHAT)

    async def authenticate(self, text: str) -> Caller:
        """The caller a key's text names; UnauthenticatedError saying why not."""
        if not text:
            raise UnauthenticatedError(
                "no API key: give --api-key, KILN_HUB_API_KEY or a client config with one"
            )
        split = secrets.split_api_key(text)
        if split is None:
            raise UnauthenticatedError("the API key is malformed (expected khk.ID.SECRET)")
        key_id, secret = split
        spec = await credentials.verified(self._state, ApiKeySpec, key_id, secret, WHAT)
        return Caller(key_id, HubRole(spec.role))
