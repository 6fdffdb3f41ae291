"""Watches: a snapshot, then every change, in commit order, to each watcher.

A :class:`Watch` is an async context manager and an async iterator::

    async with state.watch_kind(kind, "role=cp") as watch:
        async for event in watch:
            ...

It first yields a CREATED event per existing resource, then one BOOTSTRAPPED, then live
events. Writers never wait for watchers: each watcher has a bounded queue, and a watcher that
lets it fill gets ERRORED (:class:`WatchOverflowError`) and its watch ends.

:class:`WatchHub` is the fan-out a backend publishes to while it holds its write lock, so that
events reach every queue in exactly the order writes committed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from kiln.resources.errors import ResourceError, WatchOverflowError
from kiln.resources.record import Record
from kiln.resources.resource import Kind, Pointer, Resource
from kiln.resources.selector import Selector

DEFAULT_WATCH_CAPACITY = 10_000


class EventType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DESTROYED = "destroyed"
    BOOTSTRAPPED = "bootstrapped"  # the initial snapshot is complete
    ERRORED = "errored"  # the watch ended with ``error``


class Event:
    """One change seen by a watcher.

    ``resource`` is the resource after the change (for DESTROYED: its last state) and
    ``old`` the one before an UPDATED, or before it stopped matching a selector. Both are
    None for BOOTSTRAPPED and ERRORED; ``error`` is set for ERRORED. Each watcher gets its own
    copies, decoded on first access (a watcher that only needs the event type pays nothing).
    """

    __slots__ = ("_old", "_old_record", "_record", "_resource", "error", "type")

    def __init__(
        self,
        type: EventType,  # noqa: A002 - the event type
        resource: Resource[Any] | None = None,
        old: Resource[Any] | None = None,
        error: ResourceError | None = None,
    ) -> None:
        self.type = type
        self.error = error
        self._resource, self._old = resource, old
        self._record: Record | None = None
        self._old_record: Record | None = None

    @classmethod
    def of_records(
        cls,
        event_type: EventType,
        record: Record | None,
        old: Record | None,
        error: ResourceError | None = None,
    ) -> Event:
        """An event whose resources are decoded from stored records when first read."""
        event = cls(event_type, error=error)
        event._record, event._old_record = record, old
        return event

    @property
    def resource(self) -> Resource[Any] | None:
        if self._resource is None and self._record is not None:
            self._resource = self._record.resource()
        return self._resource

    @property
    def old(self) -> Resource[Any] | None:
        if self._old is None and self._old_record is not None:
            self._old = self._old_record.resource()
        return self._old

    @property
    def pointer(self) -> Pointer | None:
        """What changed (without decoding it); None for BOOTSTRAPPED and ERRORED."""
        if self._record is not None:
            return self._record.pointer
        return self._resource.pointer if self._resource is not None else None

    def __repr__(self) -> str:
        ref = self.pointer
        return f"Event({self.type.value}, {ref}{f', {self.error}' if self.error else ''})"


# A queued event: records are decoded only when the watcher takes the event.
_Item = tuple[EventType, Record | None, Record | None, ResourceError | None]


class Watch:
    """One watcher's view: bootstrapped from a snapshot, then fed by the hub."""

    def __init__(
        self,
        kind: Kind,
        *,
        id: str | None = None,  # noqa: A002
        selector: Selector | None = None,
        capacity: int = DEFAULT_WATCH_CAPACITY,
        opener: Callable[[Watch], Awaitable[None]],
        closer: Callable[[Watch], None],
    ) -> None:
        if capacity < 1:
            raise ValueError("watch capacity must be at least 1")
        self.kind = kind
        self.id = id
        self.selector = selector
        self.capacity = capacity
        self._opener = opener
        self._closer = closer
        self._snapshot: deque[_Item] = deque()
        self._live: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._opened = False
        self._ended = False  # nothing more will be queued
        self._finished = False  # the last event was taken; iteration stops

    @property
    def target(self) -> str:
        """What is watched, for messages: ``namespace/type[/id][ selector]``."""
        where = str(Pointer(self.kind.namespace, self.kind.type, self.id) if self.id else self.kind)
        return f"{where} ({self.selector})" if self.selector else where

    async def open(self) -> Self:
        """Take the snapshot and start receiving events (``async with`` does this)."""
        if not self._opened:
            self._opened = True
            await self._opener(self)
        return self

    def close(self) -> None:
        """Stop receiving events. Events already queued are dropped."""
        if not self._ended:
            self._ended = True
            self._closer(self)
        self._finished = True
        self._snapshot.clear()
        self._live.clear()
        self._wakeup.set()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        await self.open()
        while True:
            queue = self._snapshot or self._live
            if queue:
                event_type, record, old, error = queue.popleft()
                if event_type is EventType.ERRORED:
                    self._finished = True
                return Event.of_records(event_type, record, old, error)
            if self._finished or self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    # Called by the backend (under its write lock) -------------------------------------------

    def bootstrap(self, records: Iterable[Record]) -> None:
        """Queue the snapshot: CREATED for each matching record, then BOOTSTRAPPED."""
        for record in records:
            if self._wants(record):
                self._snapshot.append((EventType.CREATED, record, None, None))
        self._snapshot.append((EventType.BOOTSTRAPPED, None, None, None))
        self._wakeup.set()

    def offer(self, event_type: EventType, record: Record, old: Record | None) -> None:
        """Queue a committed change if this watcher sees it (selectors turn it into enter/leave)."""
        if self._ended or (self.id is not None and record.metadata.id != self.id):
            return
        if self.selector is not None:
            now = event_type is not EventType.DESTROYED and self._wants(record)
            was = event_type is not EventType.CREATED and self._wants(old or record)
            if now and was:
                event_type = EventType.UPDATED
            elif now:
                event_type, old = EventType.CREATED, None
            elif was:
                event_type = EventType.DESTROYED
            else:
                return
        if len(self._live) >= self.capacity:
            self.end(WatchOverflowError(self.target, self.capacity))
            return
        self._live.append((event_type, record, old, None))
        self._wakeup.set()

    def end(self, error: ResourceError) -> None:
        """Queue ERRORED after what is already queued, and stop receiving events."""
        if self._ended:
            return
        self._ended = True
        self._closer(self)
        self._live.append((EventType.ERRORED, None, None, error))
        self._wakeup.set()

    def _wants(self, record: Record) -> bool:
        return self.selector is None or self.selector.matches(record.metadata.labels)


class WatchHub:
    """Registered watches by kind (whole-kind watches) and by pointer (one-resource watches);
    fans committed changes out to them."""

    def __init__(self) -> None:
        self._watches: dict[Kind | Pointer, dict[Watch, None]] = {}

    @staticmethod
    def _key(watch: Watch) -> Kind | Pointer:
        return watch.kind if watch.id is None else watch.kind.pointer(watch.id)

    def add(self, watch: Watch) -> None:
        self._watches.setdefault(self._key(watch), {})[watch] = None

    def remove(self, watch: Watch) -> None:
        key = self._key(watch)
        watches = self._watches.get(key)
        if watches is not None:
            watches.pop(watch, None)
            if not watches:
                del self._watches[key]

    def publish(self, event_type: EventType, record: Record, old: Record | None = None) -> None:
        """Offer one committed change to every watch of its kind or of its pointer."""
        for key in (record.kind, record.pointer):
            watches = self._watches.get(key)
            if watches:
                for watch in list(watches):
                    watch.offer(event_type, record, old)

    def end_all(self, error: ResourceError) -> None:
        """End every watch with ``error`` (the state is closing)."""
        for watches in list(self._watches.values()):
            for watch in list(watches):
                watch.end(error)
