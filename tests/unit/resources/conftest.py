"""Fixtures for the resource runtime tests: a State per backend, on a fresh store each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from resource_kinds import registry

from kiln.resources import InMemoryState, SqliteState, State


@pytest.fixture(params=["memory", "sqlite"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[State]:
    """Each backend in turn: the conformance suite runs every test on both.

    SQLite runs with synchronous=NORMAL here to keep the suite fast; behaviour is the same
    as FULL except for power-failure durability, which the durability tests cover with FULL.
    """
    backend: State
    if request.param == "memory":
        backend = InMemoryState(registry=registry())
    else:
        backend = SqliteState(tmp_path / "state.db", registry(), synchronous="NORMAL")
    yield backend
    await backend.close()
