"""Real node daemons on loopback: one in maintenance mode, or configured, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from machined_cluster import TICKER, Cluster, configure

from kiln.machined.testing import NodeProcess


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return Cluster()


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[NodeProcess]:
    """A node in maintenance mode with a tiny real service to supervise once configured."""
    async with NodeProcess(tmp_path / "node", extra_services=[TICKER]) as started:
        yield started


@pytest_asyncio.fixture
async def configured(cluster: Cluster, node: NodeProcess) -> NodeProcess:
    await configure(cluster, node)
    return node
