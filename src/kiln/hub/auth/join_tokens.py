"""Join tokens: create (shown once, carrying the pin of the hub's certificate), list, revoke,
and check the token a joining machine presents."""

from __future__ import annotations

from typing import Any

from kiln.hub import clock
from kiln.hub.auth import credentials, secrets
from kiln.hub.errors import UnauthenticatedError
from kiln.hub.resources import JoinTokenSpec
from kiln.machinery.hubjoin import JoinToken
from kiln.resources import Kind, Resource, State

WHAT = "join token"


class JoinTokens:
    def __init__(self, state: State, pin: str) -> None:
        self._state = state
        self._pin = pin

    async def create(self, expires_seconds: int = 0, description: str = "") -> JoinToken:
        token_id, secret = secrets.new_id(), secrets.new_secret()
        spec = JoinTokenSpec(
            secret_hash=secrets.digest(secret),
            expires=clock.expiry(expires_seconds),
            description=description,
        )
        await self._state.create(Resource.new(token_id, spec))
        return JoinToken(token_id, secret, self._pin)

    async def list(self) -> list[Resource[Any]]:
        return await self._state.list(Kind.of(JoinTokenSpec))

    async def revoke(self, token_id: str) -> None:
        await credentials.revoke(self._state, JoinTokenSpec, token_id, WHAT)

    async def check(self, credential: str) -> str:
        """The id of the valid token ``ID.SECRET`` names; UnauthenticatedError saying why not."""
        token_id, dot, secret = credential.partition(".")
        if not dot or not token_id or not secret:
            raise UnauthenticatedError("the join token is malformed")
        await credentials.verified(self._state, JoinTokenSpec, token_id, secret, WHAT)
        return token_id
