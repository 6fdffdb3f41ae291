"""Conditions a service waits for before it starts, besides other services.

A :class:`Condition` is an async predicate with a description that says what is awaited, e.g.
``files_exist("/system/secrets/etcd/ca.crt")`` for etcd waiting on its certificates. While any
condition is false the service is WAITING and its message lists the descriptions. Conditions
are re-checked on every change of another service and at the supervisor's poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Condition:
    """``check()`` returns True once the condition holds; ``description`` names what it awaits
    ("file /etc/x exists"). A check should be quick and must not raise for "not yet"."""

    description: str
    check: Callable[[], Awaitable[bool]]

    def __str__(self) -> str:
        return self.description


def files_exist(*paths: str | os.PathLike[str]) -> Condition:
    """Holds once every one of ``paths`` exists."""
    wanted = tuple(Path(p) for p in paths)
    noun = "file" if len(wanted) == 1 else "files"

    async def check() -> bool:
        return all(path.exists() for path in wanted)

    return Condition(f"{noun} {', '.join(str(p) for p in wanted)}", check)


def port_free(port: int, host: str = "127.0.0.1") -> Condition:
    """Holds while nothing accepts TCP connections on ``host:port`` (e.g. a predecessor of the
    same server has let go of its port)."""

    async def check() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1.0)
        except (OSError, TimeoutError):
            return True
        writer.close()
        with contextlib.suppress(OSError):  # a reset on close says nothing about the port
            await writer.wait_closed()
        return False

    return Condition(f"port {host}:{port} free", check)
