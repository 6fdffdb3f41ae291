"""The hub's end of the tunnel: a unix socket, made for one use, whose connections become
byte streams to a machine's API through the machine's link.

``async with tunnels.dial(uuid) as address:`` gives a gRPC address (``unix:PATH``) that
reaches the machine's own API port; gRPC speaks TLS over it end to end, so the machine's own
authorization applies. The socket exists only while the caller uses it: an idle machine costs
no socket and no task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

from kiln.hub.links.registry import Sink
from kiln.tasks import until_first_ends

CHUNK = 64 * 1024
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


class Endpoint(Protocol):
    """Where a tunnel connection's bytes go: a machine's link held here, or the replica
    holding it (:mod:`kiln.hub.replicas.peers`)."""

    async def open(self, sink: Sink) -> int: ...

    async def data(self, conn_id: int, data: bytes) -> None: ...

    async def close(self, conn_id: int) -> None: ...


#: The endpoint of a machine by UUID; MachineUnavailableError when it has none.
Resolve = Callable[[str], Awaitable[Endpoint]]


class Tunnels:
    def __init__(self, run_dir: Path, resolve: Resolve) -> None:
        if len(str(run_dir)) > MAX_SOCKET_PATH - 16:
            run_dir = Path(tempfile.mkdtemp(prefix="kiln-hub-"))
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.run_dir = run_dir
        self._resolve = resolve
        self._ids = itertools.count(1)

    @contextlib.asynccontextmanager
    async def dial(self, uuid: str) -> AsyncIterator[str]:
        link = await self._resolve(uuid)
        path = self.run_dir / f"t{next(self._ids)}.sock"
        path.unlink(missing_ok=True)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _bridge(link, reader, writer)

        server = await asyncio.start_unix_server(accept, path=str(path))
        try:
            yield f"unix:{path}"
        finally:
            server.close()
            path.unlink(missing_ok=True)


async def _bridge(
    link: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Pump one local connection through the machine's link until either side ends."""
    incoming: asyncio.Queue[bytes | None] = asyncio.Queue()

    def sink(data: bytes | None, error: str) -> None:
        incoming.put_nowait(data)

    conn_id = await link.open(sink)

    async def to_machine() -> None:
        while chunk := await reader.read(CHUNK):
            await link.data(conn_id, chunk)

    async def from_machine() -> None:
        while (data := await incoming.get()) is not None:
            writer.write(data)
            await writer.drain()

    try:
        await until_first_ends(to_machine(), from_machine())
    finally:
        with contextlib.suppress(Exception):
            await link.close(conn_id)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
