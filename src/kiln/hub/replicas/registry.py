"""This replica's HubReplica record, and the leader's sweep of replicas that went silent.

A replica's id is kept in ``DATA/replica-id``, so a restarted process is the same replica
and takes its own record (and the machines still marked on it) back.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.hub import clock
from kiln.hub.links.machines import Machines
from kiln.hub.resources import HubReplicaSpec
from kiln.hub.resources.replica import OWNER
from kiln.machinery.privatefile import write_private_files
from kiln.resources import (
    AlreadyExistsError,
    Kind,
    NotFoundError,
    Pointer,
    Resource,
    State,
    VersionConflictError,
    cast_spec,
)

logger = logging.getLogger(__name__)

ID_FILE = "replica-id"
HEARTBEAT_EVERY = 5.0
#: A replica silent this long is gone: the leader removes it and frees its machines.
GRACE = timedelta(seconds=30)


def replica_id(data_dir: Path) -> str:
    path = data_dir / ID_FILE
    if path.exists():
        return path.read_text().strip()
    made = f"{socket.gethostname()}-{secrets.token_hex(4)}"
    write_private_files({path: made.encode()})
    return made


class ReplicaRecord:
    """The record of this replica: written at start, refreshed by :meth:`beat`."""

    def __init__(self, state: State, ident: str, api_address: str, peer_address: str) -> None:
        self._state = state
        self.id = ident
        self._api_address = api_address
        self._peer_address = peer_address
        self._started = clock.now()
        self.leader = False

    def _spec(self) -> HubReplicaSpec:
        now = clock.now()
        return HubReplicaSpec(
            api_address=self._api_address,
            peer_address=self._peer_address,
            version=__version__,
            started=self._started,
            heartbeat=now,
            leader=self.leader,
        )

    async def beat(self) -> None:
        """Write the record with a fresh heartbeat (creating it if the leader swept it)."""
        ptr = Pointer.of(HubReplicaSpec, self.id)
        for _ in range(3):
            try:
                found = await self._state.get(ptr)
            except NotFoundError:
                try:
                    await self._state.create(Resource.new(self.id, self._spec()), owner=OWNER)
                    return
                except AlreadyExistsError:
                    continue
            found.spec = self._spec()
            try:
                await self._state.update(found, owner=OWNER)
                return
            except VersionConflictError:
                continue

    async def remove(self) -> None:
        await _remove(self._state, self.id)


async def live_replica(state: State, ident: str) -> HubReplicaSpec | None:
    try:
        found = await state.get(Pointer.of(HubReplicaSpec, ident))
    except NotFoundError:
        return None
    return cast_spec(found, HubReplicaSpec).spec


async def demote_others(state: State, own: str) -> None:
    """Clear the leader mark of every other replica: the lock is this one's, so a mark left
    by a replica that died leading is stale."""
    for found in await state.list(Kind.of(HubReplicaSpec)):
        if found.id != own and found.spec.leader:
            found.spec.leader = False
            with contextlib.suppress(VersionConflictError, NotFoundError):
                await state.update(found, owner=OWNER)


async def sweep(state: State, machines: Machines, own: str, *, orphans: bool = False) -> list[str]:
    """Remove replicas silent longer than :data:`GRACE` and mark the machines they held
    disconnected; the removed replicas' ids. The machines are gone through only when a
    replica was removed (or with ``orphans``: when this replica begins to lead): that is a
    listing of every machine, too much to make every few seconds with thousands."""
    now = clock.now()
    gone: list[str] = []
    for found in await state.list(Kind.of(HubReplicaSpec)):
        spec: Any = found.spec
        if found.id != own and now - spec.heartbeat > GRACE:
            await _remove(state, found.id)
            gone.append(found.id)
    if gone:
        logger.warning("replicas gone silent: %s", ", ".join(gone))
    if gone or orphans:
        live = {found.id for found in await state.list(Kind.of(HubReplicaSpec))} | {own}
        await machines.release_orphans(live)
    return gone


async def _remove(state: State, ident: str) -> None:
    with contextlib.suppress(NotFoundError):
        await state.destroy(Pointer.of(HubReplicaSpec, ident), owner=OWNER)
