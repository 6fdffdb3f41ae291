"""A supervisor on a fresh state directory, with a recording listener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiln.machined.services import Supervisor
from kiln.machined.services.testing import RecordingListener


@pytest.fixture
def listener() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def supervisor(state_dir: Path, listener: RecordingListener) -> AsyncIterator[Supervisor]:
    async with Supervisor(state_dir, listener, poll_interval=0.05) as supervisor:
        yield supervisor
