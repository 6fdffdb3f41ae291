"""Publishes the supervisor's service changes as Service resources and machine events.

The supervisor calls its listener synchronously; the bridge queues each change and a task of
its own (:meth:`ServiceBridge.run`) writes the resources, in order.
"""

from __future__ import annotations

import asyncio
import logging

from kiln.machined.events import EventBus, EventType
from kiln.machined.services import ServiceEvent, ServiceStatus
from kiln.machinery.resources import ServiceStatusSpec
from kiln.machinery.resources.runtime import service
from kiln.resources import NotFoundError, Pointer, ResourceError, State

OWNER = "runtime.ServiceBridge"
logger = logging.getLogger(__name__)

_Change = ServiceStatus | str | None  # a new status, the name of a removed service, the end


class ServiceBridge:
    """A :class:`~kiln.machined.services.ServiceListener` writing to ``state``."""

    def __init__(self, state: State, events: EventBus) -> None:
        self._state = state
        self._events = events
        self._queue: asyncio.Queue[_Change] = asyncio.Queue()

    def service_changed(self, event: ServiceEvent, status: ServiceStatus) -> None:
        health = f", {status.health}" if status.health else ""
        message = f": {event.message}" if event.message else ""
        self._events.publish(
            EventType.SERVICE, f"service {event.service} {event.state.value}{health}{message}"
        )
        self._queue.put_nowait(status)

    def service_removed(self, name: str) -> None:
        self._queue.put_nowait(name)

    def close(self) -> None:
        """End :meth:`run` once the queued changes are written."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        while (change := await self._queue.get()) is not None:
            try:
                if isinstance(change, str):
                    await self._remove(change)
                else:
                    await self._write(change)
            except ResourceError as err:
                logger.warning("cannot publish service status: %s", err)

    async def _write(self, status: ServiceStatus) -> None:
        spec = ServiceStatusSpec(
            state=status.state.value,
            health=status.health,
            message=status.message,
            pid=status.pid,
            restarts=status.restarts,
            exit_code=status.exit_code,
            since=status.since,
        )
        ptr = Pointer.of(ServiceStatusSpec, status.name)
        try:
            current = await self._state.get(ptr)
        except NotFoundError:
            await self._state.create(service.new(status.name, spec), owner=OWNER)
            return
        current.spec = spec
        await self._state.update(current, owner=OWNER)

    async def _remove(self, name: str) -> None:
        ptr = Pointer.of(ServiceStatusSpec, name)
        try:
            await self._state.teardown(ptr, owner=OWNER)
            await self._state.destroy(ptr, owner=OWNER)
        except NotFoundError:
            return
