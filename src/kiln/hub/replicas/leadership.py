"""This replica's part in the hub: always its heartbeat and the revocations of the machines
it holds; while it holds the leader lock, the controllers and the sweep of silent replicas.

Leadership is lost the moment the lock is (see :mod:`~kiln.hub.replicas.leader`): the
controllers stop, and this replica competes for the lock again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kiln.hub.links.machines import Machines
from kiln.hub.links.registry import Links
from kiln.hub.replicas.leader import LeaderLock
from kiln.hub.replicas.registry import HEARTBEAT_EVERY, ReplicaRecord, demote_others, sweep
from kiln.hub.resources import MachineSpec
from kiln.resources import Controller, ControllerRuntime, EventType, Kind, State
from kiln.tasks import until_first_ends

logger = logging.getLogger(__name__)

REWATCH_AFTER = 1.0


class Replica:
    def __init__(
        self,
        state: State,
        record: ReplicaRecord,
        lock: LeaderLock,
        links: Links,
        controllers: Callable[[], list[Controller]],
    ) -> None:
        self._state = state
        self._record = record
        self._lock = lock
        self._links = links
        self._machines = Machines(state)
        self._controllers = controllers

    async def run(self) -> None:
        """Until cancelled; on the way out, gives the lock and this replica's record up."""
        tasks = [
            asyncio.create_task(self._beat(), name="replica heartbeat"),
            asyncio.create_task(self._lead(), name="leader election"),
            asyncio.create_task(self._cut_revoked(), name="revocations"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            await self._lock.release()
            with contextlib.suppress(Exception):  # the database may be gone; the sweep cleans up
                await self._record.remove()

    async def _beat(self) -> None:
        while True:
            await self._record.beat()
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _lead(self) -> None:
        while True:
            await self._lock.acquire()
            logger.info("replica %s leads: running the controllers", self._record.id)
            self._record.leader = True
            await self._record.beat()
            await demote_others(self._state, self._record.id)
            runtime = ControllerRuntime(self._state, self._controllers())
            ended = await until_first_ends(runtime.run(), self._lock.lost(), self._sweep())
            for task in ended:  # the controllers or the sweep failed: the replica fails
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            self._record.leader = False
            logger.warning("replica %s no longer leads: controllers stopped", self._record.id)
            await self._record.beat()

    async def _sweep(self) -> None:
        orphans = True  # a new leader looks for machines left by any replica gone meanwhile
        while True:
            await sweep(self._state, self._machines, self._record.id, orphans=orphans)
            orphans = False
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _cut_revoked(self) -> None:
        """A machine revoked through another replica loses its link here too."""
        while True:
            async with self._state.watch_kind(Kind.of(MachineSpec)) as watch:
                async for event in watch:
                    if event.type is EventType.ERRORED:
                        break
                    found = event.resource
                    if (
                        event.type is EventType.UPDATED
                        and found is not None
                        and found.spec.revoked
                        and self._links.find(found.id) is not None
                    ):
                        await self._links.cut(found.id, f"machine {found.id} is revoked")
            await asyncio.sleep(REWATCH_AFTER)
