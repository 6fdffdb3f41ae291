"""A real hub process per test module (on SQLite, then on PostgreSQL), on this suite's
loopback range (127.88.0.0/16)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hub_helpers import BACKENDS, hub_process

from kiln.hub.testing import HubProcess

HUB_HOST = "127.88.0.1"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubProcess]:
    """The hub on its embedded SQLite, then the same tests on a real PostgreSQL server."""
    async with hub_process(request, tmp_path_factory, HUB_HOST) as started:
        yield started
