"""The PostgreSQL State: resources in a database that several processes share (hub replicas).

Tables (schema version in ``kiln_schema``; opening a database runs the steps it lacks, under
an advisory lock, so that replicas starting together migrate it once):

- ``resources``: one row per resource, the columns of :data:`~kiln.resources.record.ROW_COLUMNS`;
- ``resource_events``: the feed, one row per committed write (``revision``, event, the record
  after it and, for an update, before it);
- ``resource_feed``: the last revision handed out.

Every write is one transaction that takes a cluster-wide advisory lock, checks the version it
expects (compare-and-swap), writes the row, appends its event with the next revision and
notifies ``kiln_resources``. Writers are serialized, so revisions have no gaps and follow
commit order. Each process follows the feed (LISTEN, and after each of its own writes, before
the write returns) and publishes the events to its watchers in revision order, its own writes
included, so that every watcher of every process sees the same changes in the same order.
A watch takes its snapshot at a revision and receives the events after it. Events older than
:data:`FEED_KEPT` revisions are pruned; a process that fell further behind (or lost its
listening connection) ends its watches with an error, and their owners open them again.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import TypeVar

import asyncpg

from kiln.resources.backend import Backend
from kiln.resources.definition import Registry
from kiln.resources.errors import StorageError
from kiln.resources.record import ROW_COLUMNS, Record, Row, from_row, to_row
from kiln.resources.resource import Kind, Pointer, utc_now
from kiln.resources.watch import DEFAULT_WATCH_CAPACITY, EventType, Watch

logger = logging.getLogger(__name__)

CHANNEL = "kiln_resources"
WRITE_LOCK = 0x6B696C6E_0001  # advisory lock keys ("kiln" + n)
MIGRATE_LOCK = 0x6B696C6E_0002
FEED_KEPT = 100_000  # events kept behind the newest
PRUNE_EVERY = 1_000  # writes between two prunings
REFOLLOW_EVERY = 1.0  # seconds between reads of the feed while the listener is lost
T = TypeVar("T")
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_COLUMNS = ", ".join(ROW_COLUMNS)
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(ROW_COLUMNS) + 1))


def _create_tables(db: Connection) -> Awaitable[str]:
    return db.execute(
        """
        CREATE TABLE resources (
            namespace   TEXT NOT NULL,
            type        TEXT NOT NULL,
            id          TEXT NOT NULL,
            version     BIGINT NOT NULL,
            owner       TEXT NOT NULL,
            phase       TEXT NOT NULL,
            finalizers  TEXT NOT NULL,
            labels      TEXT NOT NULL,
            annotations TEXT NOT NULL,
            created     TEXT NOT NULL,
            updated     TEXT NOT NULL,
            spec        TEXT NOT NULL,
            PRIMARY KEY (namespace, type, id)
        );
        CREATE TABLE resource_events (
            revision BIGINT PRIMARY KEY,
            event    TEXT NOT NULL,
            record   TEXT NOT NULL,
            old      TEXT
        );
        CREATE TABLE resource_feed (revision BIGINT NOT NULL);
        INSERT INTO resource_feed VALUES (0);
        """
    )


#: Migration steps: step ``n`` moves a database from schema version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Callable[[Connection], Awaitable[str]], ...] = (_create_tables,)


class PostgresState(Backend):
    """Resources in PostgreSQL (see the module docstring). Open with :meth:`connect`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        listener: asyncpg.Connection,
        registry: Registry,
        *,
        dsn: str = "",
        watch_capacity: int = DEFAULT_WATCH_CAPACITY,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(registry=registry, watch_capacity=watch_capacity, now=now)
        self.registry: Registry = registry
        self._pool = pool
        self._listener: asyncpg.Connection | None = listener
        self._dsn = dsn  # to connect the listener again after losing it
        self._feed_lock = asyncio.Lock()
        self._seen = 0  # the last revision published to this process's watchers
        self._follow: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._writes = 0

    @classmethod
    async def connect(
        cls,
        dsn: str,
        registry: Registry,
        *,
        pool_size: int = 4,
        watch_capacity: int = DEFAULT_WATCH_CAPACITY,
        now: Callable[[], datetime] = utc_now,
    ) -> PostgresState:
        """Open (and migrate) the database at ``dsn``; StorageError if it cannot."""
        async with _translated(f"cannot connect to {_safe(dsn)}"):
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        try:
            async with _translated(f"cannot open {_safe(dsn)}"):
                await _migrate(pool)
                listener = await asyncpg.connect(dsn)
        except BaseException:
            await pool.close()
            raise
        state = cls(pool, listener, registry, dsn=dsn, watch_capacity=watch_capacity, now=now)
        await state._start_following()
        return state

    async def _start_following(self) -> None:
        assert self._listener is not None
        async with _translated("cannot follow the resource feed"):
            self._seen = await self._pool.fetchval("SELECT revision FROM resource_feed")
            await self._listen(self._listener)
        self._follow = asyncio.create_task(self._follow_feed(), name="postgres resource feed")
        self._wake.set()  # what was committed while the listener was being set up

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self, listener: asyncpg.Connection) -> None:
        await listener.add_listener(CHANNEL, self._notified)
        listener.add_termination_listener(self._listener_lost)

    def _listener_lost(self, *_: object) -> None:
        if not self._closed:
            logger.warning("lost the PostgreSQL connection that follows the resource feed")
            self._listener = None
            self._wake.set()

    async def _follow_feed(self) -> None:
        """Publish what other processes commit, whenever the database says there is more.

        Without a listener (its connection was lost) the feed is read every
        :data:`REFOLLOW_EVERY` seconds while a new listener is being connected: the feed has
        no gaps, so watches see every change, only later.
        """
        while True:
            if self._listener is None:
                await self._relisten()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), REFOLLOW_EVERY)
            else:
                await self._wake.wait()
            self._wake.clear()
            try:
                await self._drain()
            except StorageError as err:
                logger.warning("cannot read the resource feed: %s", err)
                self._hub.end_all(err)
                await asyncio.sleep(REFOLLOW_EVERY)

    async def _relisten(self) -> None:
        try:
            listener = await asyncpg.connect(self._dsn, timeout=REFOLLOW_EVERY * 5)
            await self._listen(listener)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("cannot follow the resource feed yet: %s", exc)
            return
        self._listener = listener
        logger.info("following the resource feed again")

    # Storage primitives ----------------------------------------------------------------------

    async def _fetch(self, ptr: Pointer) -> Record | None:
        async with _translated(f"cannot read {ptr}"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM resources WHERE namespace = $1 AND type = $2 AND id = $3",
                ptr.namespace,
                ptr.type,
                ptr.id,
            )
        return from_row(tuple(row), self.registry) if row is not None else None

    async def _fetch_kind(self, kind: Kind) -> builtins.list[Record]:
        async with _translated(f"cannot list {kind}"):
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM resources WHERE namespace = $1 AND type = $2 "
                'ORDER BY id COLLATE "C"',
                kind.namespace,
                kind.type,
            )
        return [from_row(tuple(row), self.registry) for row in rows]

    async def _insert(self, record: Record) -> bool:
        async def write(db: Connection) -> tuple[str, Row, Row | None] | None:
            status = await db.execute(
                f"INSERT INTO resources ({_COLUMNS}) VALUES ({_PLACEHOLDERS}) "
                "ON CONFLICT DO NOTHING",
                *to_row(record),
            )
            return (
                (EventType.CREATED.value, to_row(record), None) if status.endswith(" 1") else None
            )

        return await self._write(f"cannot create {record.pointer}", write)

    async def _replace(self, record: Record, expected_version: int) -> bool:
        m = record.metadata

        async def write(db: Connection) -> tuple[str, Row, Row | None] | None:
            old = await db.fetchrow(
                f"SELECT {_COLUMNS} FROM resources "
                "WHERE namespace = $1 AND type = $2 AND id = $3 AND version = $4",
                m.namespace,
                m.type,
                m.id,
                expected_version,
            )
            if old is None:
                return None
            await db.execute(
                "UPDATE resources SET version = $4, owner = $5, phase = $6, finalizers = $7, "
                "labels = $8, annotations = $9, created = $10, updated = $11, spec = $12 "
                "WHERE namespace = $1 AND type = $2 AND id = $3",
                *to_row(record),
            )
            return EventType.UPDATED.value, to_row(record), _row(old)

        return await self._write(f"cannot write {record.pointer}", write)

    async def _delete(self, ptr: Pointer, expected_version: int) -> bool:
        async def write(db: Connection) -> tuple[str, Row, Row | None] | None:
            old = await db.fetchrow(
                f"DELETE FROM resources "
                "WHERE namespace = $1 AND type = $2 AND id = $3 AND version = $4 "
                f"RETURNING {_COLUMNS}",
                ptr.namespace,
                ptr.type,
                ptr.id,
                expected_version,
            )
            return None if old is None else (EventType.DESTROYED.value, _row(old), None)

        return await self._write(f"cannot destroy {ptr}", write)

    async def _write(
        self,
        what: str,
        change: Callable[[Connection], Awaitable[tuple[str, Row, Row | None] | None]],
    ) -> bool:
        """Run ``change`` in a transaction holding the write lock; if it changed a row, append
        its event to the feed and notify, in the same transaction. Whether it changed one."""
        async with _translated(what), self._pool.acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            event = await change(db)
            if event is None:
                return False
            kind, record, old = event
            revision = await db.fetchval(
                "UPDATE resource_feed SET revision = revision + 1 RETURNING revision"
            )
            await db.execute(
                "INSERT INTO resource_events (revision, event, record, old) "
                "VALUES ($1, $2, $3, $4)",
                revision,
                kind,
                json.dumps(record),
                None if old is None else json.dumps(old),
            )
            if revision % PRUNE_EVERY == 0:
                await db.execute(
                    "DELETE FROM resource_events WHERE revision <= $1", revision - FEED_KEPT
                )
            await db.execute(f"NOTIFY {CHANNEL}")
        return True

    async def _published(
        self, event_type: EventType, record: Record, old: Record | None = None
    ) -> None:
        await self._drain()  # this write, and whatever others committed before it

    async def _close_storage(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
        async with _translated("cannot close the database connections"):
            if self._listener is not None:
                await self._listener.close()
            await self._pool.close()

    # The feed --------------------------------------------------------------------------------

    async def _drain(self, until: int | None = None) -> None:
        async with self._feed_lock:
            await self._publish_feed(until)

    async def _publish_feed(self, until: int | None = None) -> None:
        """Publish the events after the last one seen (up to ``until``), in revision order."""
        async with _translated("cannot read the resource feed"):
            rows = await self._pool.fetch(
                "SELECT revision, event, record, old FROM resource_events "
                "WHERE revision > $1 AND revision <= $2 ORDER BY revision",
                self._seen,
                until if until is not None else 2**62,
            )
        if rows and rows[0]["revision"] != self._seen + 1:
            logger.warning("the resource feed moved on past this process: watches restart")
            self._hub.end_all(StorageError("missed changes of the shared store"))
        for row in rows:
            record = from_row(json.loads(row["record"]), self.registry)
            old = None if row["old"] is None else from_row(json.loads(row["old"]), self.registry)
            self._hub.publish(EventType(row["event"]), record, old)
            self._seen = row["revision"]

    async def _open_watch(self, watch: Watch) -> None:
        """Snapshot at a revision nobody writes during, publish the feed up to it to the other
        watchers, then add this one: it gets exactly the events after its snapshot."""
        self._check_open()
        async with self._lock, self._feed_lock:
            async with (
                _translated(f"cannot watch {watch.target}"),
                self._pool.acquire() as db,
                db.transaction(isolation="repeatable_read", readonly=True),
            ):
                await db.execute("SELECT pg_advisory_xact_lock_shared($1)", WRITE_LOCK)
                revision = await db.fetchval("SELECT revision FROM resource_feed")
                if watch.id is None:
                    rows = await db.fetch(
                        f"SELECT {_COLUMNS} FROM resources WHERE namespace = $1 AND type = $2 "
                        'ORDER BY id COLLATE "C"',
                        watch.kind.namespace,
                        watch.kind.type,
                    )
                else:
                    rows = await db.fetch(
                        f"SELECT {_COLUMNS} FROM resources "
                        "WHERE namespace = $1 AND type = $2 AND id = $3",
                        watch.kind.namespace,
                        watch.kind.type,
                        watch.id,
                    )
            await self._publish_feed(until=revision)
            watch.bootstrap([from_row(tuple(row), self.registry) for row in rows])
            self._hub.add(watch)


def _row(record: asyncpg.Record) -> Row:
    row: Row = tuple(record)  # the columns of ROW_COLUMNS
    return row


async def _migrate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as db, db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await db.execute("CREATE TABLE IF NOT EXISTS kiln_schema (version INTEGER NOT NULL)")
        version = await db.fetchval("SELECT version FROM kiln_schema")
        if version is None:
            await db.execute("INSERT INTO kiln_schema VALUES (0)")
            version = 0
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the database has schema version {version}; this Kiln reads up to "
                f"{len(MIGRATIONS)}"
            )
        for step in range(version, len(MIGRATIONS)):
            await MIGRATIONS[step](db)
        await db.execute("UPDATE kiln_schema SET version = $1", len(MIGRATIONS))


def _safe(dsn: str) -> str:
    """``dsn`` without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return dsn
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


@asynccontextmanager
async def _translated(what: str) -> AsyncIterator[None]:
    """Turn database and connection errors into StorageError, once, at this boundary."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
        raise StorageError(f"{what}: {err}") from err
