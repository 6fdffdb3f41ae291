"""Join tokens: create (shown once, carrying the pin of the hub's certificate), list, revoke,
and check the token a joining machine presents."""

from __future__ import annotations

from typing import Any

from kiln.hub import clock
from kiln.hub.auth import secrets
from kiln.hub.errors import NotFoundError, UnauthenticatedError
from kiln.hub.resources import JoinTokenSpec
from kiln.machinery.hubjoin import JoinToken
from kiln.resources import Kind, Pointer, Resource, State, cast_spec
from kiln.resources import NotFoundError as ResourceNotFound


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
        try:
            found = await self._state.get(Pointer.of(JoinTokenSpec, token_id))
        except ResourceNotFound:
            raise NotFoundError(f"no join token {token_id!r}") from None
        token = cast_spec(found, JoinTokenSpec)
        token.spec.revoked = True
        await self._state.update(token)

    async def check(self, credential: str) -> str:
        """The id of the valid token ``ID.SECRET`` names; UnauthenticatedError saying why not."""
        token_id, dot, secret = credential.partition(".")
        if not dot or not token_id or not secret:
            raise UnauthenticatedError("the join token is malformed")
        try:
            found = await self._state.get(Pointer.of(JoinTokenSpec, token_id))
        except ResourceNotFound:
            raise UnauthenticatedError(f"join token {token_id} is not known to this hub") from None
        spec = cast_spec(found, JoinTokenSpec).spec
        if not secrets.matches(secret, spec.secret_hash):
            raise UnauthenticatedError(f"join token {token_id}: wrong secret")
        if spec.revoked:
            raise UnauthenticatedError(f"join token {token_id} is revoked")
        if clock.expired(spec.expires):
            raise UnauthenticatedError(f"join token {token_id} expired at {spec.expires}")
        return token_id
