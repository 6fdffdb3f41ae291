"""The machine's end of the tunnel: each byte stream the hub opens becomes a TCP connection to
the machine's own API port, so the hub's calls meet the API's TLS and authorization exactly as
a direct client's would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kiln.machinery.api import hublink_pb2 as pb

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
Send = Callable[[pb.MachineMessage], Awaitable[None]]


class Bridge:
    def __init__(self, api_address: tuple[str, int], send: Send) -> None:
        self._address = api_address
        self._send = send
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._early: dict[int, list[bytes]] = {}  # bytes that came before the API answered
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def handle(self, frame: pb.Frame) -> None:
        if frame.open:
            self._early[frame.id] = []
            task = asyncio.create_task(self._pump(frame.id), name=f"hub tunnel {frame.id}")
            self._tasks[frame.id] = task
            return
        writer = self._writers.get(frame.id)
        if frame.data:
            if writer is not None:
                writer.write(frame.data)
            elif frame.id in self._early:
                self._early[frame.id].append(frame.data)
        pumping = self._tasks.get(frame.id)
        if frame.close and pumping is not None:
            pumping.cancel()

    async def _pump(self, conn_id: int) -> None:
        """Connect to the API, then copy what it sends to the hub until either side closes."""
        error = ""
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(*self._address)
            for data in self._early.pop(conn_id, []):
                writer.write(data)
            self._writers[conn_id] = writer
            while chunk := await reader.read(CHUNK):
                await self._send(pb.MachineMessage(frame=pb.Frame(id=conn_id, data=chunk)))
        except OSError as exc:
            error = f"the machine's API at {self._address[0]}:{self._address[1]}: {exc}"
            logger.debug("tunnel %d: %s", conn_id, error)
        finally:
            self._writers.pop(conn_id, None)
            self._early.pop(conn_id, None)
            self._tasks.pop(conn_id, None)
            if writer is not None:
                writer.close()
            with contextlib.suppress(Exception):
                frame = pb.Frame(id=conn_id, close=True, error=error)
                await asyncio.shield(self._send(pb.MachineMessage(frame=frame)))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
