"""Every call passes here first: who the client is, whether it may call the method, and the
translation of errors into gRPC statuses.

:class:`AccessInterceptor` wraps each method handler. A node in maintenance mode serves only
the methods :mod:`permissions` marks for it, to anyone; a configured node has already checked
the client's certificate against its OS CA in the TLS handshake, and here takes the client's
roles from the certificate's Organizations and checks them against the permission table. A
forwarding node's certificate (``os:impersonator``) grants no role of its own: a call it
forwards carries its caller's roles in metadata, and only from such a certificate are they
believed. The trust port serves only the methods marked for it, to anyone (the machine token
they carry authorizes them).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from kiln.errors import KilnError
from kiln.machined.api.status import status_of
from kiln.machinery import forwarding, permissions
from kiln.machinery.interceptors import Context, Streaming, Unary, WrappingInterceptor
from kiln.machinery.roles import IMPERSONATOR, Role

logger = logging.getLogger(__name__)

BOOT_WAIT = 30.0  # seconds a call waits for the boot to take over an early-started server


def roles_of(context: Context) -> frozenset[Role]:
    """The roles the client's certificate grants (none without a client certificate); for a
    forwarding node's certificate, the roles of the caller it forwards for."""
    subjects = list(context.auth_context().get("x509_subject") or [])
    if not subjects:
        return frozenset()
    organizations = organizations_of(subjects[0])
    if IMPERSONATOR not in organizations:
        return Role.from_organizations(organizations)
    metadata = context.invocation_metadata()
    if not forwarding.values(metadata, forwarding.FORWARDED):
        return frozenset()
    return Role.from_organizations(
        forwarding.split(forwarding.values(metadata, forwarding.FORWARDED_ROLE))
    )


@functools.lru_cache(maxsize=256)
def organizations_of(subject: bytes) -> frozenset[str]:
    """The Organization (``O``) values of a certificate subject as the TLS layer names it
    (RFC 2253: ``CN=admin,O=os:admin``; ``\\,`` ``\\+`` and ``\\C3\\A9`` escapes). Values
    in hex form (``#...``) are kept as written, so they match no role."""
    found: set[str] = set()
    for attribute in _attributes(subject):
        kind, equals, value = attribute.partition(b"=")
        if equals and kind.strip().upper() in (b"O", b"2.5.4.10"):
            found.add(value.decode("utf-8", errors="replace"))
    return frozenset(found)


def _attributes(subject: bytes) -> list[bytes]:
    """``subject`` split at unescaped ``,`` and ``+``, escapes resolved in each part."""
    parts: list[bytes] = []
    current = bytearray()
    index = 0
    while index < len(subject):
        char = subject[index : index + 1]
        if char == b"\\":
            pair = subject[index + 1 : index + 3]
            if len(pair) == 2 and all(c in _HEX for c in pair):
                current.append(int(pair, 16))
                index += 3
                continue
            current += subject[index + 1 : index + 2]
            index += 2
            continue
        if char in (b",", b"+"):
            parts.append(bytes(current))
            current.clear()
        else:
            current += char
        index += 1
    parts.append(bytes(current))
    return parts


_HEX = frozenset(b"0123456789abcdefABCDEF")


class AccessInterceptor(WrappingInterceptor):
    """Authorizes every call and translates the errors its handler raises (module docstring)."""

    def __init__(
        self, *, maintenance: bool, trust: bool = False, booted: asyncio.Event | None = None
    ) -> None:
        self.maintenance = maintenance
        self.trust = trust
        self.booted = booted

    def wrap_unary(self, method: str, behavior: Unary) -> Unary:
        async def guarded(request: Any, context: Context) -> Any:
            await self._admit(method, context)
            try:
                return await behavior(request, context)
            except (KilnError, OSError) as err:
                await _abort(context, method, err)

        return guarded

    def wrap_streaming(self, method: str, behavior: Streaming) -> Streaming:
        async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
            await self._admit(method, context)
            try:
                async for item in behavior(request, context):
                    yield item
            except (KilnError, OSError) as err:
                await _abort(context, method, err)

        return guarded

    async def _admit(self, method: str, context: Context) -> None:
        if self.trust:
            if not permissions.is_served_on_trust_port(method):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, f"{method} is not served on the trust port"
                )
            return
        if self.maintenance:
            if not permissions.is_served_in_maintenance(method):
                served = ", ".join(permissions.MAINTENANCE_METHODS)
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"the node is in maintenance mode: it serves only {served} "
                    "until a config is applied",
                )
        else:
            verdict = permissions.check(method, roles_of(context))
            if not verdict.allowed:
                logger.info("denied %s: %s", method, verdict.reason)
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, verdict.reason)
        await self._until_booted(method, context)

    async def _until_booted(self, method: str, context: Context) -> None:
        """On a server started before the node loaded (:mod:`kiln.machined.early`), every
        call but a local Version waits for the boot to take the server over."""
        booted = self.booted
        if booted is None or booted.is_set():
            return
        local = not forwarding.values(context.invocation_metadata(), forwarding.NODES)
        if method == permissions.MACHINE + "Version" and local:
            return
        try:
            await asyncio.wait_for(booted.wait(), BOOT_WAIT)
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the node is still booting; try again in a moment"
            )


async def _abort(context: Context, method: str, err: Exception) -> None:
    code, message = status_of(err)
    log = logger.warning if code is grpc.StatusCode.INTERNAL else logger.debug
    log("%s failed with %s: %s", method, code.name, message)
    await context.abort(code, message)
