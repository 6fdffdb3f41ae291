"""Leader election: exactly one replica runs the controllers at a time.

- On PostgreSQL, the leader holds a session-level advisory lock on a connection of its own.
  The server releases it when that session ends (the process died, the network is gone), so
  another replica takes over. The leader checks its session every :data:`CHECK_EVERY`
  seconds and steps down the moment the check fails or the lock is no longer its own. If the
  server ends the session while the leader cannot reach it, the two may overlap for at most
  one check (about :data:`CHECK_EVERY` + :data:`CHECK_TIMEOUT` seconds).
- On SQLite (one host), the leader holds an exclusive ``flock`` on ``PATH.leader`` next to
  the database file; the kernel drops it when the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import asyncpg

logger = logging.getLogger(__name__)

LEADER_LOCK = 0x6B696C6E_0010  # advisory lock key ("kiln" + n), apart from the State's own
CHECK_EVERY = 1.0
CHECK_TIMEOUT = 3.0
#: The server notices a leader that vanished without closing its connection (a network cut)
#: within about idle + interval * count seconds, and releases the lock.
KEEPALIVE = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}


class LeaderLock(Protocol):
    async def acquire(self) -> None:
        """Wait until this replica holds the lock."""

    async def lost(self) -> None:
        """Return once this replica no longer holds the lock it acquired."""

    async def release(self) -> None:
        """Give the lock up (stopping); safe when not held."""


def leader_lock(database: str) -> LeaderLock:
    """The lock the replicas on ``database`` (a State URL) compete for."""
    if urlsplit(database).scheme == "sqlite":
        return FileLeaderLock(Path(database.removeprefix("sqlite://") + ".leader"))
    return PostgresLeaderLock(database)


class PostgresLeaderLock:
    def __init__(self, dsn: str, check_every: float = CHECK_EVERY) -> None:
        self._dsn = dsn
        self._check_every = check_every
        self._db: asyncpg.Connection | None = None

    async def acquire(self) -> None:
        while True:
            try:
                if self._db is None or self._db.is_closed():
                    self._db = await asyncpg.connect(
                        self._dsn, timeout=CHECK_TIMEOUT, server_settings=KEEPALIVE
                    )
                if await self._db.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK):
                    return
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                logger.warning("leader election: cannot reach the database: %s", exc)
                await self._drop()
            await asyncio.sleep(self._check_every)

    async def lost(self) -> None:
        while True:
            await asyncio.sleep(self._check_every)
            if not await self._still_held():
                logger.warning("leader election: lost the leader lock")
                await self._drop()
                return

    async def _still_held(self) -> bool:
        db = self._db
        if db is None or db.is_closed():
            return False
        try:
            held = await db.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = $1",
                LEADER_LOCK,
                timeout=CHECK_TIMEOUT,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
        return bool(held)

    async def release(self) -> None:
        db = self._db
        if db is not None and not db.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await db.execute("SELECT pg_advisory_unlock_all()")
        await self._drop()

    async def _drop(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.wait_for(db.close(), CHECK_TIMEOUT)
            db.terminate()


class FileLeaderLock:
    def __init__(self, path: Path, poll: float = CHECK_EVERY) -> None:
        self._path = path
        self._poll = poll
        self._fd: int | None = None
        self._released = asyncio.Event()

    async def acquire(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    await asyncio.sleep(self._poll)
                    continue
                self._fd, fd = fd, -1
                self._released.clear()
                return
        finally:
            if fd >= 0:
                os.close(fd)

    async def lost(self) -> None:
        await self._released.wait()  # a flock stays held for as long as the process lives

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock
        self._released.set()
