"""Processes left running by a daemon that died are stopped by the next supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from kiln import process
from kiln.machined.services import Supervisor
from kiln.machined.services.pidfile import PidFiles, process_alive, process_cmdline

pytestmark = pytest.mark.integration


async def test_recorded_children_that_still_match_are_stopped(state_dir: Path) -> None:
    child = await process.spawn(["sleep", "60"], capture_output=False)
    PidFiles(state_dir / "pids").record("sleeper", child.pid, ["sleep", "60"])
    async with Supervisor(state_dir) as supervisor:
        assert supervisor.names() == []
    assert await asyncio.wait_for(child.wait(), 5) == -signal.SIGTERM
    assert list((state_dir / "pids").iterdir()) == []


async def test_a_reused_pid_is_left_alone(state_dir: Path) -> None:
    child = await process.spawn(["sleep", "60"], capture_output=False)
    try:
        pids = PidFiles(state_dir / "pids")
        pids.record("other", child.pid, ["etcd", "--data-dir", "/var/lib/etcd"])
        pids.record("gone", 2**22 + 1, ["sleep", "60"])  # above pid_max: no such process
        assert await Supervisor(state_dir).cleanup_stale() == []
        assert process_alive(child.pid)
        assert list((state_dir / "pids").iterdir()) == []
    finally:
        await process.terminate(child, grace=1)


async def test_a_start_time_mismatch_is_left_alone(state_dir: Path) -> None:
    child = await process.spawn(["sleep", "60"], capture_output=False)
    try:
        records = state_dir / "pids"
        PidFiles(records).record("sleeper", child.pid, ["sleep", "60"])
        path = records / "sleeper.json"
        path.write_text(path.read_text().replace('"start_time": ', '"start_time": 1'))
        assert await Supervisor(state_dir).cleanup_stale() == []
        assert process_alive(child.pid)
    finally:
        await process.terminate(child, grace=1)


async def test_unreadable_records_are_dropped(state_dir: Path) -> None:
    records = state_dir / "pids"
    records.mkdir(parents=True)
    (records / "broken.json").write_text("{not json")
    assert await Supervisor(state_dir).cleanup_stale() == []
    assert list(records.iterdir()) == []


DAEMON = """
import asyncio, sys
from kiln.machined.services import ServiceSpec, ServiceState, Supervisor

async def main() -> None:
    supervisor = Supervisor(sys.argv[1])
    supervisor.load(ServiceSpec("sleeper", ["sleep", "60"]))
    await supervisor.start("sleeper")
    status = await supervisor.wait_for("sleeper", ServiceState.RUNNING, timeout=10)
    print(status.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_children_of_a_killed_daemon_are_cleaned_up(state_dir: Path) -> None:
    daemon = await process.spawn([sys.executable, "-c", textwrap.dedent(DAEMON), str(state_dir)])
    assert daemon.output is not None
    pid = int(await asyncio.wait_for(daemon.output.readline(), 10))
    os.kill(daemon.pid, signal.SIGKILL)  # the daemon only, not its process group
    await daemon.wait()
    assert process_alive(pid)  # orphaned, still running
    assert process_cmdline(pid) == ("sleep", "60")

    async with Supervisor(state_dir):
        pass
    assert not process_alive(pid)
