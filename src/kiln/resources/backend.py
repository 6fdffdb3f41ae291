"""The State rules, implemented once on top of a backend's storage primitives.

A backend subclasses :class:`Backend` and implements five primitives over immutable
:class:`~kiln.resources.record.Record` values: ``_fetch``, ``_fetch_kind``, ``_insert``,
``_replace`` and ``_delete``. The last three are compare-and-swap writes (insert if absent,
replace/delete only at an expected version), so a backend shared by several processes
(PostgreSQL) stays correct. Such a backend also has to feed changes committed by other
processes to local watchers (``self._hub.publish`` from a LISTEN/NOTIFY listener, in commit
order) and take watch snapshots consistent with that feed (e.g. by a revision column).

Within one process every write runs under one lock: read the current record, check the rules,
commit, publish the event to watchers, with nothing in between that lets another write
interleave. A watch takes its snapshot under the same lock, so a watcher sees each write
exactly once, either in its snapshot or as an event.
"""

from __future__ import annotations

import asyncio
import builtins
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from kiln.resources.definition import Registry, definition_of
from kiln.resources.errors import (
    AlreadyExistsError,
    FinalizersPendingError,
    InvalidResourceError,
    NotFoundError,
    OwnerConflictError,
    PhaseConflictError,
    StateClosedError,
    VersionConflictError,
)
from kiln.resources.record import Record
from kiln.resources.resource import Kind, Metadata, Phase, Pointer, Resource, utc_now
from kiln.resources.selector import Selector, as_selector
from kiln.resources.state import State
from kiln.resources.watch import DEFAULT_WATCH_CAPACITY, EventType, Watch, WatchHub

SpecT = TypeVar("SpecT", bound=BaseModel)


class Backend(State):
    """A :class:`State` whose storage is supplied by a subclass's primitives."""

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        watch_capacity: int = DEFAULT_WATCH_CAPACITY,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.registry = registry
        self.watch_capacity = watch_capacity
        self._now = now
        self._lock = asyncio.Lock()
        self._hub = WatchHub()
        self._closed = False

    # Storage primitives ----------------------------------------------------------------------

    @abstractmethod
    async def _fetch(self, ptr: Pointer) -> Record | None:
        """The stored record at ``ptr``, or None."""

    @abstractmethod
    async def _fetch_kind(self, kind: Kind) -> builtins.list[Record]:
        """Every stored record of ``kind``, sorted by id."""

    @abstractmethod
    async def _insert(self, record: Record) -> bool:
        """Store a new record durably; False (and no change) if the pointer is taken."""

    @abstractmethod
    async def _replace(self, record: Record, expected_version: int) -> bool:
        """Replace the stored record if its version is ``expected_version``; else False."""

    @abstractmethod
    async def _delete(self, ptr: Pointer, expected_version: int) -> bool:
        """Delete the stored record if its version is ``expected_version``; else False."""

    async def _close_storage(self) -> None:
        """Release the storage (files, connections)."""

    async def _published(
        self, event_type: EventType, record: Record, old: Record | None = None
    ) -> None:
        """A write of this process has committed: tell the watchers (under the write lock).
        A backend shared by processes publishes its feed instead, this write in its place."""
        self._hub.publish(event_type, record, old)

    # Reads -----------------------------------------------------------------------------------

    async def get(self, ptr: Pointer) -> Resource[Any]:
        return (await self._require(ptr)).resource()

    async def list(
        self, kind: Kind, selector: Selector | str | None = None
    ) -> builtins.list[Resource[Any]]:
        self._check_open()
        wanted = as_selector(selector)
        records = await self._fetch_kind(kind)
        return [
            record.resource()
            for record in records
            if wanted is None or wanted.matches(record.metadata.labels)
        ]

    def watch(self, ptr: Pointer, *, capacity: int | None = None) -> Watch:
        return Watch(
            ptr.kind,
            id=ptr.id,
            capacity=capacity or self.watch_capacity,
            opener=self._open_watch,
            closer=self._hub.remove,
        )

    def watch_kind(
        self, kind: Kind, selector: Selector | str | None = None, *, capacity: int | None = None
    ) -> Watch:
        return Watch(
            kind,
            selector=as_selector(selector),
            capacity=capacity or self.watch_capacity,
            opener=self._open_watch,
            closer=self._hub.remove,
        )

    async def _open_watch(self, watch: Watch) -> None:
        self._check_open()
        async with self._lock:
            if watch.id is None:
                records = await self._fetch_kind(watch.kind)
            else:
                found = await self._fetch(watch.kind.pointer(watch.id))
                records = [found] if found is not None else []
            watch.bootstrap(records)
            self._hub.add(watch)

    # Writes ----------------------------------------------------------------------------------

    async def create(self, resource: Resource[SpecT], owner: str = "") -> Resource[SpecT]:
        self._check_open()
        self._check_spec(resource)
        now = self._now()
        metadata = replace(
            resource.metadata.copy(),
            version=1,
            owner=owner,
            phase=Phase.RUNNING,
            finalizers=(),
            created=now,
            updated=now,
        )
        record = Record.of(metadata, resource.spec)
        async with self._lock:
            if not await self._insert(record):
                raise AlreadyExistsError(record.pointer)
            await self._published(EventType.CREATED, record)
        return record.resource()

    async def update(
        self,
        resource: Resource[SpecT],
        owner: str = "",
        *,
        expected_phase: Phase | None = Phase.RUNNING,
    ) -> Resource[SpecT]:
        self._check_open()
        self._check_spec(resource)
        ptr = resource.pointer
        async with self._lock:
            current = await self._require(ptr)
            self._check_owner(current, owner)
            if resource.metadata.version != current.version:
                raise VersionConflictError(ptr, resource.metadata.version, current.version)
            if expected_phase is not None and current.phase is not expected_phase:
                raise PhaseConflictError(ptr, current.phase, "update")
            metadata = replace(
                current.metadata,
                version=current.version + 1,
                labels=dict(resource.metadata.labels),
                annotations=dict(resource.metadata.annotations),
                updated=self._now(),
            )
            record = Record.of(metadata, resource.spec)
            await self._commit(record, current)
        return record.resource()

    async def teardown(self, ptr: Pointer, owner: str = "") -> bool:
        self._check_open()
        async with self._lock:
            current = await self._require(ptr)
            self._check_owner(current, owner)
            if current.phase is not Phase.TEARING_DOWN:
                await self._commit_metadata(current, phase=Phase.TEARING_DOWN)
            return not current.finalizers

    async def add_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        self._check_open()
        async with self._lock:
            current = await self._require(ptr)
            added = tuple(dict.fromkeys(n for n in names if n not in current.finalizers))
            if not added:
                return current.resource()
            if current.phase is Phase.TEARING_DOWN:
                raise PhaseConflictError(ptr, current.phase, f"add finalizer {added[0]}")
            record = await self._commit_metadata(current, finalizers=current.finalizers + added)
        return record.resource()

    async def remove_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        self._check_open()
        async with self._lock:
            current = await self._require(ptr)
            kept = tuple(n for n in current.finalizers if n not in names)
            if kept == current.finalizers:
                return current.resource()
            record = await self._commit_metadata(current, finalizers=kept)
        return record.resource()

    async def destroy(self, ptr: Pointer, owner: str = "") -> None:
        self._check_open()
        async with self._lock:
            current = await self._require(ptr)
            self._check_owner(current, owner)
            if current.finalizers:
                raise FinalizersPendingError(ptr, current.finalizers)
            if not await self._delete(ptr, current.version):
                await self._raise_conflict(ptr, current.version)
            await self._published(EventType.DESTROYED, current)

    async def close(self) -> None:
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            self._hub.end_all(StateClosedError())
            await self._close_storage()

    # Helpers ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StateClosedError()

    def _check_spec(self, resource: Resource[Any]) -> None:
        """The spec must be of the class registered for the resource's type."""
        metadata = resource.metadata
        expected: type[BaseModel] | None
        if self.registry is not None:
            expected = self.registry.get(metadata.type).spec
        else:
            described = definition_of(resource.spec)
            expected = described.spec if described.type == metadata.type else None
        if type(resource.spec) is not expected:
            raise InvalidResourceError(
                f"resource {metadata.pointer}: spec {type(resource.spec).__qualname__} "
                f"is not the spec of type {metadata.type}"
            )

    @staticmethod
    def _check_owner(current: Record, owner: str) -> None:
        if current.owner != owner:
            raise OwnerConflictError(current.pointer, current.owner, owner)

    async def _require(self, ptr: Pointer) -> Record:
        self._check_open()
        record = await self._fetch(ptr)
        if record is None:
            raise NotFoundError(ptr)
        return record

    async def _commit_metadata(self, current: Record, **changes: Any) -> Record:
        metadata: Metadata = replace(
            current.metadata, version=current.version + 1, updated=self._now(), **changes
        )
        record = Record(metadata, current.spec_class, current.spec_json)
        await self._commit(record, current)
        return record

    async def _commit(self, record: Record, current: Record) -> None:
        """Replace ``current`` by ``record`` (compare-and-swap) and publish UPDATED."""
        if not await self._replace(record, current.version):
            await self._raise_conflict(record.pointer, current.version)
        await self._published(EventType.UPDATED, record, current)

    async def _raise_conflict(self, ptr: Pointer, expected: int) -> None:
        """Another process changed the record between our read and our write."""
        now = await self._fetch(ptr)
        if now is None:
            raise NotFoundError(ptr)
        raise VersionConflictError(ptr, expected, now.version)
