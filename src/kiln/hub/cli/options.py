"""What every client command shares: the hub access options and running a coroutine."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from kiln.hub.cli.connection import HubAccess, call, connect, resolve_access
from kiln.hub.errors import HubClientError
from kiln.machinery.api import hub_pb2_grpc

_T = TypeVar("_T")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def access(ctx: click.Context) -> HubAccess:
    params: dict[str, Any] = ctx.find_root().params
    return resolve_access(params["hub"], params["api_key"], params["ca"], params["config"])


def run(work: Coroutine[Any, Any, _T]) -> _T:
    return asyncio.run(work)


def call_hub(
    ctx: click.Context,
    method: Callable[[hub_pb2_grpc.HubServiceAsyncStub], Callable[..., Awaitable[_T]]],
    request: object,
) -> _T:
    """One unary call to the hub: ``method`` picks it from the stub."""

    async def work() -> _T:
        async with connect(access(ctx)) as hub:
            return await call(method(hub), request)

    return run(work())


def seconds(text: str | None, flag: str) -> int:
    """A duration such as 30m, 12h or 7d in seconds (None: 0, never)."""
    if text is None:
        return 0
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise HubClientError(f"{flag} {text!r}: expected a duration such as 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def since(text: str | None) -> datetime | None:
    """``--since``: a duration back from now, or an ISO 8601 time (UTC if no zone)."""
    if text is None:
        return None
    if _DURATION.match(text.strip()):
        return datetime.now(UTC) - timedelta(seconds=seconds(text, "--since"))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise HubClientError(
            f"--since {text!r}: expected a duration (30m, 2h, 7d) or a time (2026-12-06T10:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def config_path(value: str | None) -> Path | None:
    return Path(value) if value else None
