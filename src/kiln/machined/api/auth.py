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

import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.errors import KilnError
from kiln.machined.api import permissions
from kiln.machined.api.status import status_of
from kiln.machinery import forwarding
from kiln.machinery.interceptors import Context, Streaming, Unary, WrappingInterceptor
from kiln.machinery.roles import IMPERSONATOR, Role

logger = logging.getLogger(__name__)


def roles_of(context: Context) -> frozenset[Role]:
    """The roles the client's certificate grants (none without a client certificate); for a
    forwarding node's certificate, the roles of the caller it forwards for."""
    certificates = list(context.auth_context().get("x509_pem_cert") or [])
    if not certificates:
        return frozenset()
    organizations = _organizations(certificates[0])
    if IMPERSONATOR not in organizations:
        return Role.from_organizations(organizations)
    metadata = context.invocation_metadata()
    if not forwarding.values(metadata, forwarding.FORWARDED):
        return frozenset()
    return Role.from_organizations(
        forwarding.split(forwarding.values(metadata, forwarding.FORWARDED_ROLE))
    )


@functools.lru_cache(maxsize=256)
def _organizations(pem: bytes) -> frozenset[str]:
    subject = x509.load_pem_x509_certificate(pem).subject
    return frozenset(
        str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )


class AccessInterceptor(WrappingInterceptor):
    """Authorizes every call and translates the errors its handler raises (module docstring)."""

    def __init__(self, *, maintenance: bool, trust: bool = False) -> None:
        self.maintenance = maintenance
        self.trust = trust

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
            return
        verdict = permissions.check(method, roles_of(context))
        if not verdict.allowed:
            logger.info("denied %s: %s", method, verdict.reason)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, verdict.reason)


async def _abort(context: Context, method: str, err: Exception) -> None:
    code, message = status_of(err)
    log = logger.warning if code is grpc.StatusCode.INTERNAL else logger.debug
    log("%s failed with %s: %s", method, code.name, message)
    await context.abort(code, message)
