"""The machines connected right now, each with its one connection and the byte streams (tunnel
connections) open through it. Nothing here runs while a machine is idle: a link is a few
objects; its connection's handler waits for the machine's next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.hub.errors import MachineUnavailableError
from kiln.machinery.api import hublink_pb2 as pb

#: Where a tunnel connection's bytes from the machine go (None: the machine closed it).
Sink = Callable[[bytes | None, str], None]


@dataclass(eq=False)
class MachineLink:
    uuid: str
    write: Callable[[pb.HubMessage], Awaitable[None]]
    task: asyncio.Task[Any] | None = None
    end: Callable[[str], Awaitable[None]] | None = None  # refuses the machine, closing the link
    facts: pb.Facts = field(default_factory=pb.Facts)
    sinks: dict[int, Sink] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, message: pb.HubMessage) -> None:
        await self.write(message)

    async def open(self, sink: Sink) -> int:
        conn_id = next(self._ids)
        self.sinks[conn_id] = sink
        await self.send(pb.HubMessage(frame=pb.Frame(id=conn_id, open=True)))
        return conn_id

    async def data(self, conn_id: int, data: bytes) -> None:
        await self.send(pb.HubMessage(frame=pb.Frame(id=conn_id, data=data)))

    async def close(self, conn_id: int) -> None:
        if self.sinks.pop(conn_id, None) is not None:
            await self.send(pb.HubMessage(frame=pb.Frame(id=conn_id, close=True)))

    def deliver(self, frame: pb.Frame) -> None:
        """A frame from the machine: bytes (or the end) of one of our connections."""
        sink = self.sinks.get(frame.id)
        if sink is None:
            return
        if frame.data:
            sink(frame.data, "")
        if frame.close:
            self.sinks.pop(frame.id, None)
            sink(None, frame.error)

    def drop(self) -> None:
        """The link ended: every tunnel connection ends with it."""
        sinks, self.sinks = self.sinks, {}
        for sink in sinks.values():
            sink(None, "the machine's connection to the hub ended")


class Links:
    def __init__(self) -> None:
        self._links: dict[str, MachineLink] = {}

    def add(self, link: MachineLink) -> MachineLink | None:
        """Register ``link``; the link it replaces (the machine reconnected), if any."""
        previous = self._links.get(link.uuid)
        self._links[link.uuid] = link
        return previous

    def remove(self, link: MachineLink) -> bool:
        """Forget ``link`` unless a newer one replaced it; whether it was the current one."""
        if self._links.get(link.uuid) is link:
            del self._links[link.uuid]
            return True
        return False

    def find(self, uuid: str) -> MachineLink | None:
        return self._links.get(uuid)

    def get(self, uuid: str) -> MachineLink:
        link = self._links.get(uuid)
        if link is None:
            raise MachineUnavailableError(f"machine {uuid} is not connected to the hub")
        return link

    async def cut(self, uuid: str, reason: str) -> None:
        """End a machine's link, telling the machine why (it was revoked)."""
        link = self._links.get(uuid)
        if link is None:
            return
        if link.end is not None:
            with contextlib.suppress(Exception):  # the status is sent; only the raise remains
                await link.end(reason)
        if link.task is not None:
            link.task.cancel()

    def __len__(self) -> int:
        return len(self._links)
