"""A real hub process per test module (on SQLite, then on PostgreSQL), on this suite's
loopback range (127.88.0.0/16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kiln.hub.testing import HubProcess
from kiln.resources.pgserver import PostgresServer

HUB_HOST = "127.88.0.1"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubProcess]:
    """The hub on its embedded SQLite, then the same tests on a real PostgreSQL server."""
    data: Path = tmp_path_factory.mktemp("hub") / "data"
    database = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        database = await server.new_database("hub")
    async with HubProcess(data, host=HUB_HOST, database=database) as started:
        yield started
