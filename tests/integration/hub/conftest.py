"""A real hub process per test module, on this suite's loopback range (127.88.0.0/16)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kiln.hub.testing import HubProcess

HUB_HOST = "127.88.0.1"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubProcess]:
    data: Path = tmp_path_factory.mktemp("hub") / "data"
    async with HubProcess(data, host=HUB_HOST) as started:
        yield started
