"""Writes to Machine resources (owner :data:`~kiln.hub.resources.machine.OWNER`): joins,
connections, facts, revocations. Each re-reads and retries on a concurrent write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiln.hub import clock
from kiln.hub.errors import NotFoundError
from kiln.hub.resources import MachineSpec
from kiln.hub.resources.machine import OWNER
from kiln.resources import Kind, Pointer, Resource, State, VersionConflictError, cast_spec
from kiln.resources import NotFoundError as ResourceNotFound

ATTEMPTS = 5


class Machines:
    def __init__(self, state: State) -> None:
        self._state = state

    async def find(self, uuid: str) -> Resource[MachineSpec] | None:
        try:
            return cast_spec(await self._state.get(Pointer.of(MachineSpec, uuid)), MachineSpec)
        except ResourceNotFound:
            return None

    async def require(self, uuid: str) -> Resource[MachineSpec]:
        found = await self.find(uuid)
        if found is None:
            raise NotFoundError(f"no machine {uuid!r} has joined this hub")
        return found

    async def put(self, uuid: str, change: Callable[[MachineSpec], None], new: MachineSpec) -> None:
        """Create the machine from ``new`` (changed) or change the stored one."""
        for _ in range(ATTEMPTS):
            found = await self.find(uuid)
            if found is None:
                change(new)
                await self._state.create(Resource.new(uuid, new), owner=OWNER)
                return
            change(found.spec)
            try:
                await self._state.update(found, owner=OWNER)
                return
            except VersionConflictError:
                continue
        raise VersionConflictError(Pointer.of(MachineSpec, uuid), 0, 0)

    async def change(self, uuid: str, change: Callable[[MachineSpec], None]) -> None:
        await self.require(uuid)
        await self.put(uuid, change, MachineSpec(secret_hash=""))

    async def release(self, replicas: Callable[[str], bool]) -> None:
        """Mark disconnected every connected machine whose link was held by a replica for
        which ``replicas`` says yes (at start: this replica's own, from before it restarted;
        on the leader: those of replicas gone silent)."""
        for found in await self._state.list(Kind.of(MachineSpec)):
            spec = cast_spec(found, MachineSpec).spec
            if spec.connected and replicas(spec.replica):
                await self.change(found.id, disconnected_from(spec.replica))

    async def release_orphans(self, live: set[str]) -> None:
        await self.release(lambda replica: replica not in live)

    async def list(self) -> list[Resource[Any]]:
        return await self._state.list(Kind.of(MachineSpec))


def disconnected_from(replica: str) -> Callable[[MachineSpec], None]:
    """The change for a link held by ``replica`` ending: nothing if the machine has since
    connected to another replica."""

    def change(spec: MachineSpec) -> None:
        if spec.replica == replica:
            spec.connected = False
            spec.replica = ""
            spec.last_seen = clock.now()

    return change
