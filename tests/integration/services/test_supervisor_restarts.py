"""Restart policies and capped exponential backoff, with real programs exiting."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from kiln.machined.services import (
    Backoff,
    RestartPolicy,
    ServiceSpec,
    ServiceState,
    Supervisor,
)
from kiln.machined.services.testing import RecordingClock, RecordingListener

pytestmark = pytest.mark.integration

S = ServiceState
QUICK = Backoff(initial=0.01, cap=0.01)
ALWAYS = RestartPolicy.ALWAYS


def fails_until(counter: Path, runs: int) -> list[str]:
    """A program that exits 1 on its first ``runs - 1`` runs, then 0."""
    code = (
        "import pathlib, sys\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "n = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(n))\n"
        "print('run', n)\n"
        f"sys.exit(0 if n >= {runs} else 1)\n"
    )
    return [sys.executable, "-c", code]


async def test_always_restarts_after_a_clean_exit(
    supervisor: Supervisor, listener: RecordingListener
) -> None:
    supervisor.load(ServiceSpec("loop", ["true"], restart=RestartPolicy.ALWAYS, backoff=QUICK))
    await supervisor.start("loop")
    async with asyncio.timeout(5):
        await listener.wait_until(lambda: supervisor.status("loop").restarts >= 2)
    finished = [e for e in listener.of("loop") if e.state is S.FINISHED]
    assert finished[0].message == "exited with code 0; restarting in 0.01s"
    await supervisor.stop("loop")


async def test_on_failure_restarts_until_success(supervisor: Supervisor, tmp_path: Path) -> None:
    argv = fails_until(tmp_path / "count", runs=3)
    supervisor.load(ServiceSpec("flaky", argv, restart=RestartPolicy.ON_FAILURE, backoff=QUICK))
    await supervisor.start("flaky")
    done = await supervisor.wait_for("flaky", S.FINISHED, timeout=10)
    assert done.restarts == 2
    assert done.exit_code == 0
    assert done.message == "exited with code 0"
    assert supervisor.logs("flaky").tail() == ["run 1", "run 2", "run 3"]


async def test_on_failure_does_not_restart_after_success(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("job", ["true"], restart=RestartPolicy.ON_FAILURE, backoff=QUICK))
    await supervisor.start("job")
    done = await supervisor.wait_for("job", S.FINISHED, timeout=5)
    assert (done.restarts, done.message) == (0, "exited with code 0")


async def test_once_never_restarts(supervisor: Supervisor, listener: RecordingListener) -> None:
    supervisor.load(ServiceSpec("job", ["false"], restart=RestartPolicy.ONCE, backoff=QUICK))
    await supervisor.start("job")
    failed = await supervisor.wait_for("job", S.FAILED, timeout=5)
    assert (failed.restarts, failed.exit_code) == (0, 1)
    assert failed.message == "exited with code 1"
    assert listener.states("job") == [S.STOPPED, S.STARTING, S.RUNNING, S.FAILED]
    await supervisor.start("job")  # a final state can be started again
    await listener.wait_until(lambda: listener.states("job").count(S.FAILED) == 2)


async def test_backoff_grows_and_caps(state_dir: Path, listener: RecordingListener) -> None:
    clock = RecordingClock()
    backoff = Backoff(initial=1, cap=5, factor=2, reset_after=3600)
    async with Supervisor(state_dir, listener, clock=clock) as supervisor:
        supervisor.load(
            ServiceSpec("crashy", ["false"], restart=RestartPolicy.ALWAYS, backoff=backoff)
        )
        await supervisor.start("crashy")
        async with asyncio.timeout(10):
            await listener.wait_until(lambda: supervisor.status("crashy").restarts >= 5)
    assert clock.sleeps[:5] == [1, 2, 4, 5, 5]
    messages = [e.message for e in listener.of("crashy") if e.state is S.FAILED]
    assert messages[:3] == [
        "exited with code 1; restarting in 1s",
        "exited with code 1; restarting in 2s",
        "exited with code 1; restarting in 4s",
    ]


async def test_backoff_starts_over_after_a_long_enough_run(
    state_dir: Path, listener: RecordingListener
) -> None:
    clock = RecordingClock()
    backoff = Backoff(initial=1, cap=5, factor=2, reset_after=0)  # every run is long enough
    async with Supervisor(state_dir, listener, clock=clock) as supervisor:
        supervisor.load(
            ServiceSpec("crashy", ["false"], restart=RestartPolicy.ALWAYS, backoff=backoff)
        )
        await supervisor.start("crashy")
        async with asyncio.timeout(10):
            await listener.wait_until(lambda: supervisor.status("crashy").restarts >= 3)
    assert clock.sleeps[:3] == [1, 1, 1]
