"""The in-memory State: for tests, and for state that must not outlive the process."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime

from kiln.resources.backend import Backend
from kiln.resources.definition import Registry
from kiln.resources.record import Record
from kiln.resources.resource import Kind, Pointer, utc_now
from kiln.resources.watch import DEFAULT_WATCH_CAPACITY


class InMemoryState(Backend):
    """Records in a dict per kind. Specs are kept as JSON, exactly as SQLite stores them.

    Without a ``registry`` any spec class with a ``@definition`` is accepted; with one, only
    registered types are (as with :class:`~kiln.resources.sqlite.SqliteState`).
    """

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        watch_capacity: int = DEFAULT_WATCH_CAPACITY,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(registry=registry, watch_capacity=watch_capacity, now=now)
        self._records: dict[Kind, dict[str, Record]] = {}

    async def _fetch(self, ptr: Pointer) -> Record | None:
        records = self._records.get(ptr.kind)
        return records.get(ptr.id) if records is not None else None

    async def _fetch_kind(self, kind: Kind) -> builtins.list[Record]:
        records = self._records.get(kind)
        if not records:
            return []
        return [records[id_] for id_ in sorted(records)]

    async def _insert(self, record: Record) -> bool:
        records = self._records.setdefault(record.kind, {})
        if record.metadata.id in records:
            return False
        records[record.metadata.id] = record
        return True

    async def _replace(self, record: Record, expected_version: int) -> bool:
        records = self._records.get(record.kind)
        current = records.get(record.metadata.id) if records is not None else None
        if records is None or current is None or current.version != expected_version:
            return False
        records[record.metadata.id] = record
        return True

    async def _delete(self, ptr: Pointer, expected_version: int) -> bool:
        records = self._records.get(ptr.kind)
        current = records.get(ptr.id) if records is not None else None
        if records is None or current is None or current.version != expected_version:
            return False
        del records[ptr.id]
        return True

    async def _close_storage(self) -> None:
        self._records.clear()
