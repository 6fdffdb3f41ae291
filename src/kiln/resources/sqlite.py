"""The SQLite State: durable resources in one file (the hub's embedded store, node state).

One table keyed by (namespace, type, id) holds the metadata columns and the spec as JSON. The
file is in WAL mode; with ``synchronous="FULL"`` (the default) a write is on disk before the
call returns, so an acknowledged write survives the process being killed (or the power
failing). The schema version lives in ``PRAGMA user_version``; opening a file runs the
migration steps it has not seen yet.

The sqlite3 calls block the event loop while they run. Each is one short statement on a
local file (plus an fsync for writes), which is acceptable here; a networked backend would
use real async I/O behind the same primitives.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from kiln.resources.backend import Backend
from kiln.resources.definition import Registry
from kiln.resources.errors import StorageError
from kiln.resources.record import ROW_COLUMNS, Record, from_row, to_row
from kiln.resources.resource import Kind, Pointer, utc_now
from kiln.resources.watch import DEFAULT_WATCH_CAPACITY

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

_COLUMNS = ", ".join(ROW_COLUMNS)


def _create_resources_table(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE resources (
            namespace   TEXT NOT NULL,
            type        TEXT NOT NULL,
            id          TEXT NOT NULL,
            version     INTEGER NOT NULL,
            owner       TEXT NOT NULL,
            phase       TEXT NOT NULL,
            finalizers  TEXT NOT NULL,  -- JSON array
            labels      TEXT NOT NULL,  -- JSON object
            annotations TEXT NOT NULL,  -- JSON object
            created     TEXT NOT NULL,  -- ISO 8601, UTC
            updated     TEXT NOT NULL,
            spec        TEXT NOT NULL,  -- JSON
            PRIMARY KEY (namespace, type, id)
        ) WITHOUT ROWID
        """
    )


#: Migration steps: step ``n`` moves a file from schema version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_resources_table,)


class SqliteState(Backend):
    """Resources in a SQLite file; specs decoded through ``registry`` (unknown types refused)."""

    def __init__(
        self,
        path: str | Path,
        registry: Registry,
        *,
        synchronous: str = "FULL",
        watch_capacity: int = DEFAULT_WATCH_CAPACITY,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(registry=registry, watch_capacity=watch_capacity, now=now)
        self.registry: Registry = registry
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = Path(path)
        with _translated(f"cannot open {self.path}"):
            self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            with _translated(f"cannot open {self.path}"):
                self._db.execute("PRAGMA busy_timeout = 5000")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StorageError(
                f"{self.path} has schema version {version}; this Kiln reads up to {len(MIGRATIONS)}"
            )
        for step_version in range(version, len(MIGRATIONS)):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step_version](self._db)
                self._db.execute(f"PRAGMA user_version = {step_version + 1}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # Storage primitives ----------------------------------------------------------------------

    async def _fetch(self, ptr: Pointer) -> Record | None:
        with _translated(f"cannot read {ptr}"):
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM resources WHERE namespace = ? AND type = ? AND id = ?",
                (ptr.namespace, ptr.type, ptr.id),
            ).fetchone()
        return from_row(row, self.registry) if row is not None else None

    async def _fetch_kind(self, kind: Kind) -> builtins.list[Record]:
        with _translated(f"cannot list {kind}"):
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM resources WHERE namespace = ? AND type = ? ORDER BY id",
                (kind.namespace, kind.type),
            ).fetchall()
        return [from_row(row, self.registry) for row in rows]

    async def _insert(self, record: Record) -> bool:
        with _translated(f"cannot create {record.pointer}"):
            cursor = self._db.execute(
                f"INSERT INTO resources ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                to_row(record),
            )
        return cursor.rowcount == 1

    async def _replace(self, record: Record, expected_version: int) -> bool:
        m = record.metadata
        with _translated(f"cannot write {record.pointer}"):
            cursor = self._db.execute(
                "UPDATE resources SET version = ?, owner = ?, phase = ?, finalizers = ?, "
                "labels = ?, annotations = ?, created = ?, updated = ?, spec = ? "
                "WHERE namespace = ? AND type = ? AND id = ? AND version = ?",
                (*to_row(record)[3:], m.namespace, m.type, m.id, expected_version),
            )
        return cursor.rowcount == 1

    async def _delete(self, ptr: Pointer, expected_version: int) -> bool:
        with _translated(f"cannot destroy {ptr}"):
            cursor = self._db.execute(
                "DELETE FROM resources WHERE namespace = ? AND type = ? AND id = ? AND version = ?",
                (ptr.namespace, ptr.type, ptr.id, expected_version),
            )
        return cursor.rowcount == 1

    async def _close_storage(self) -> None:
        with _translated(f"cannot close {self.path}"):
            self._db.close()


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn sqlite3 errors into StorageError, once, at this boundary."""
    try:
        yield
    except sqlite3.Error as err:
        raise StorageError(f"{what}: {err}") from err
