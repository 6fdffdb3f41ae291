"""Checking and revoking a stored credential (an API key or a join token) by id and secret."""

from __future__ import annotations

from typing import TypeVar

from kiln.hub import clock
from kiln.hub.auth import secrets
from kiln.hub.errors import NotFoundError, UnauthenticatedError
from kiln.hub.resources.credential import CredentialSpec
from kiln.resources import NotFoundError as ResourceNotFound
from kiln.resources import Pointer, State, cast_spec

CredentialT = TypeVar("CredentialT", bound=CredentialSpec)


async def verified(
    state: State, kind: type[CredentialT], credential_id: str, secret: str, what: str
) -> CredentialT:
    """The stored credential, if ``secret`` is its secret and it is neither revoked nor
    expired; UnauthenticatedError saying which (never echoing the secret) otherwise."""
    try:
        found = cast_spec(await state.get(Pointer.of(kind, credential_id)), kind)
    except ResourceNotFound:
        raise UnauthenticatedError(f"{what} {credential_id} is not known to this hub") from None
    spec = found.spec
    if not secrets.matches(secret, spec.secret_hash):
        raise UnauthenticatedError(f"{what} {credential_id}: wrong secret")
    if spec.revoked:
        raise UnauthenticatedError(f"{what} {credential_id} is revoked")
    if clock.expired(spec.expires):
        raise UnauthenticatedError(f"{what} {credential_id} expired at {spec.expires}")
    return spec


async def revoke(state: State, kind: type[CredentialSpec], credential_id: str, what: str) -> None:
    try:
        found = cast_spec(await state.get(Pointer.of(kind, credential_id)), kind)
    except ResourceNotFound:
        raise NotFoundError(f"no {what} {credential_id!r}") from None
    found.spec.revoked = True
    await state.update(found)
