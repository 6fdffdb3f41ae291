"""The leader locks on their real backends: one holder at a time, and a holder whose
database session ends learns it has lost the lock, so that another can take it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from kiln.hub.replicas.leader import FileLeaderLock, PostgresLeaderLock
from kiln.resources.pgserver import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

SETTLE = 2.5  # more than two lock checks


async def test_one_postgres_session_holds_the_lock_and_a_lost_session_lets_go(
    postgres: PostgresServer,
) -> None:
    dsn = await postgres.new_database("leader")
    first, second = PostgresLeaderLock(dsn, 0.2), PostgresLeaderLock(dsn, 0.2)
    try:
        await first.acquire()
        waiting = asyncio.create_task(second.acquire())
        await asyncio.sleep(SETTLE)
        assert not waiting.done()
        lost = asyncio.create_task(first.lost())
        admin = await asyncpg.connect(dsn)
        try:  # the server ends the leader's session, as it does for a leader that vanished
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        async with asyncio.timeout(10):
            await lost
            await waiting
    finally:
        await first.release()
        await second.release()


async def test_one_process_at_a_time_holds_the_file_lock(tmp_path: Path) -> None:
    path = tmp_path / "hub.db.leader"
    first, second = FileLeaderLock(path, 0.05), FileLeaderLock(path, 0.05)
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await first.release()
    async with asyncio.timeout(5):
        await waiting
    await second.release()
