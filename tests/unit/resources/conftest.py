"""Fixtures for the resource runtime tests: a State per backend, on a fresh store each test.

The PostgreSQL backend runs against a real server (Debian's ``postgresql``) that the session
starts once in a temporary directory; each test gets a database of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from resource_kinds import registry

from kiln.resources import InMemoryState, SqliteState, State
from kiln.resources.pgserver import PostgresServer, server_binaries
from kiln.resources.postgres import PostgresState

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One server for the session, run from a loop in a thread of its own: tests each have
    their own loop, and the first to ask may be inside it already."""
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are missing: apt-get install postgresql")
    server = PostgresServer(tmp_path_factory.mktemp("postgres"), durable=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="postgres server", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result()
        yield server
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)]
)
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[State]:
    """Each backend in turn: the conformance suite runs every test on all three.

    SQLite runs with synchronous=NORMAL here to keep the suite fast; behaviour is the same
    as FULL except for power-failure durability, which the durability tests cover with FULL.
    """
    backend: State
    if request.param == "memory":
        backend = InMemoryState(registry=registry())
    elif request.param == "sqlite":
        backend = SqliteState(tmp_path / "state.db", registry(), synchronous="NORMAL")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        dsn = await server.create_database(f"conformance_{next(_databases)}")
        backend = await PostgresState.connect(dsn, registry())
    yield backend
    await backend.close()
