"""Fixtures for the resource runtime tests: a State per backend, on a fresh store each test.

The PostgreSQL backend runs against a real server (Debian's ``postgresql``) that the session
starts once in a temporary directory; each test gets a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from resource_kinds import registry

from kiln.resources import InMemoryState, SqliteState, State
from kiln.resources.pgserver import PostgresServer
from kiln.resources.postgres import PostgresState


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
        dsn = await server.new_database("conformance")
        backend = await PostgresState.connect(dsn, registry())
    yield backend
    await backend.close()
