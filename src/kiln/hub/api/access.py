"""Every call to the hub's API port passes here: authenticate the API key, check the role
against :mod:`~kiln.hub.auth.permissions`, run the handler, translate its errors, and record
mutating calls (refused and failed ones too) in the audit log.

Handlers read the caller from :data:`CALLER`, and may name the target of the call for the
audit log in :data:`AUDIT_TARGET` (else the request's ``id`` names it).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from kiln.errors import KilnError
from kiln.hub.api.status import status_of
from kiln.hub.auth import permissions
from kiln.hub.auth.audit import AuditLog
from kiln.hub.auth.keys import ApiKeys, Caller
from kiln.hub.errors import PermissionDeniedError
from kiln.machinery import forwarding
from kiln.machinery.forwarding import AUTHORIZATION, BEARER
from kiln.machinery.interceptors import Context, Streaming, Unary, WrappingInterceptor

logger = logging.getLogger(__name__)


CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("hub caller")
#: What a machine-authorized call (Join) names as its caller in the audit log.
AUDIT_WHO: contextvars.ContextVar[str] = contextvars.ContextVar("audit who", default="")
#: What a call acted on, for the audit log, when its request does not say (relayed calls).
AUDIT_TARGET: contextvars.ContextVar[str] = contextvars.ContextVar("audit target", default="")


def api_key_of(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION and isinstance(value, str):
            return value.removeprefix(BEARER).strip()
    return ""


class AccessInterceptor(WrappingInterceptor):
    def __init__(self, keys: ApiKeys, audit: AuditLog) -> None:
        self._keys = keys
        self._audit = audit

    def wrap_unary(self, method: str, behavior: Unary) -> Unary:
        async def guarded(request: Any, context: Context) -> Any:
            who = "anonymous"
            try:
                who = await self._admit(method, context)
                reply = await behavior(request, context)
            except (KilnError, OSError) as err:
                if isinstance(err, _Denied):
                    who = err.who
                code, message = status_of(err)
                await self._record(method, AUDIT_WHO.get() or who, request, code.name, message)
                await _abort(context, method, code, message)
            await self._record(method, AUDIT_WHO.get() or who, request, "OK")
            return reply

        return guarded

    def wrap_streaming(self, method: str, behavior: Streaming) -> Streaming:
        async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
            who = "anonymous"
            try:
                who = await self._admit(method, context)
                async for item in behavior(request, context):
                    yield item
            except (KilnError, OSError) as err:
                if isinstance(err, _Denied):
                    who = err.who
                code, message = status_of(err)
                await self._record(method, who, request, code.name, message)
                await _abort(context, method, code, message)
            await self._record(method, who, request, "OK")

        return guarded

    async def _admit(self, method: str, context: Context) -> str:
        """Who the caller is (for the audit); raises if the call may not go ahead."""
        if not permissions.needs_api_key(method):
            return "machine"
        if permissions.is_relayed(method):  # until the handler names the machine
            metadata = context.invocation_metadata()
            named = forwarding.values(metadata, forwarding.CLUSTER) + forwarding.split(
                forwarding.values(metadata, forwarding.NODES)
            )
            AUDIT_TARGET.set(" ".join(named))
        caller = await self._keys.authenticate(api_key_of(context))
        CALLER.set(caller)
        reason = permissions.denial(method, caller.role)
        if reason is not None:
            logger.info("denied %s to %s: %s", method, caller, reason)
            raise _Denied(str(caller), reason)
        return str(caller)

    async def _record(
        self, method: str, who: str, request: Any, result: str, detail: str = ""
    ) -> None:
        if not permissions.is_mutating(method):
            return
        target = AUDIT_TARGET.get() or str(
            getattr(request, "id", "") or getattr(request, "uuid", "")
        )
        try:
            await self._audit.record(who, method, result, target=target, detail=detail)
        except KilnError as err:
            logger.error("cannot record %s by %s in the audit log: %s", method, who, err)


class _Denied(PermissionDeniedError):
    def __init__(self, who: str, reason: str) -> None:
        self.who = who
        super().__init__(reason)


async def _abort(context: Context, method: str, code: grpc.StatusCode, message: str) -> None:
    log = logger.warning if code is grpc.StatusCode.INTERNAL else logger.debug
    log("%s failed with %s: %s", method, code.name, message)
    await context.abort(code, message)
