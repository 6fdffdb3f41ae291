"""Starting, stopping and restarting real programs under the supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kiln.machined.services import (
    RestartPolicy,
    ServiceSpec,
    ServiceState,
    ServiceTimeoutError,
    Supervisor,
)
from kiln.machined.services.pidfile import process_alive, wait_gone
from kiln.machined.services.testing import RecordingListener

pytestmark = pytest.mark.integration

S = ServiceState


async def first_line(supervisor: Supervisor, name: str) -> str:
    async with asyncio.timeout(5):
        async for line in supervisor.logs(name).follow(0):
            return line
    raise AssertionError("log ended")


async def test_start_and_stop(supervisor: Supervisor, listener: RecordingListener) -> None:
    supervisor.load(ServiceSpec("sleeper", ["sleep", "60"]))
    await supervisor.start("sleeper")
    running = await supervisor.wait_for("sleeper", S.RUNNING, timeout=5)
    assert running.pid is not None and process_alive(running.pid)
    assert running.message == f"running (pid {running.pid})"
    assert running.healthy is None

    stopped = await supervisor.stop("sleeper")
    assert stopped.state is S.STOPPED
    assert stopped.message == "stopped (killed by SIGTERM)"
    assert stopped.pid is None
    assert stopped.exit_code == -15
    assert not process_alive(running.pid)
    assert listener.states("sleeper") == [S.STOPPED, S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED]
    assert not list((supervisor.state_dir / "pids").glob("*.json"))


async def test_start_is_idempotent_and_restart_makes_a_new_process(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("sleeper", ["sleep", "60"]))
    await supervisor.start("sleeper")
    first = await supervisor.wait_for("sleeper", S.RUNNING, timeout=5)
    await supervisor.start("sleeper")
    assert supervisor.status("sleeper").pid == first.pid

    await supervisor.restart("sleeper")
    second = await supervisor.wait_for("sleeper", S.RUNNING, timeout=5)
    assert second.pid != first.pid
    assert first.pid is not None and not process_alive(first.pid)
    assert second.restarts == 0  # restarts count the policy's, not the user's


async def test_a_service_stopped_by_the_user_stays_stopped(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("sleeper", ["sleep", "60"], restart=RestartPolicy.ALWAYS))
    await supervisor.start("sleeper")
    await supervisor.wait_for("sleeper", S.RUNNING, timeout=5)
    await supervisor.stop("sleeper")
    with pytest.raises(ServiceTimeoutError):
        await supervisor.wait_for("sleeper", S.STARTING, S.RUNNING, timeout=0.3)
    assert supervisor.status("sleeper").state is S.STOPPED
    await supervisor.start("sleeper")
    await supervisor.wait_for("sleeper", S.RUNNING, timeout=5)


async def test_sigterm_ignored_means_sigkill_after_the_grace(supervisor: Supervisor) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor.load(ServiceSpec("stubborn", [sys.executable, "-c", code], stop_grace=0.3))
    await supervisor.start("stubborn")
    assert await first_line(supervisor, "stubborn") == "ignoring SIGTERM"
    started = time.monotonic()
    stopped = await supervisor.stop("stubborn")
    assert 0.3 <= time.monotonic() - started < 3
    assert stopped.message == "stopped (killed by SIGKILL)"


async def test_stop_kills_the_whole_process_tree(supervisor: Supervisor) -> None:
    code = (
        "import subprocess\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    supervisor.load(ServiceSpec("parent", [sys.executable, "-c", code]))
    await supervisor.start("parent")
    grandchild = int(await first_line(supervisor, "parent"))
    assert process_alive(grandchild)
    await supervisor.stop("parent")
    await asyncio.wait_for(wait_gone(grandchild), 2)  # signalled with its group, gone at once


async def test_a_grandchild_that_left_the_group_does_not_hold_up_the_exit(
    supervisor: Supervisor,
) -> None:
    code = (
        "import subprocess\n"
        "escaped = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(escaped.pid, flush=True)\n"
    )
    supervisor.load(ServiceSpec("leaky", [sys.executable, "-c", code], restart=RestartPolicy.ONCE))
    await supervisor.start("leaky")
    escaped = int(await first_line(supervisor, "leaky"))
    try:
        started = time.monotonic()
        done = await supervisor.wait_for("leaky", S.FINISHED, timeout=5)
        assert time.monotonic() - started < 3  # waited at most the drain timeout for its pipe
        assert done.exit_code == 0
        assert process_alive(escaped)  # out of reach without a cgroup
    finally:
        os.kill(escaped, signal.SIGKILL)


async def test_a_program_that_cannot_start_fails(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("ghost", ["/nonexistent/kiln-ghost"], restart=RestartPolicy.ONCE))
    await supervisor.start("ghost")
    failed = await supervisor.wait_for("ghost", S.FAILED, timeout=5)
    assert failed.message == (
        "/nonexistent/kiln-ghost could not be started: No such file or directory"
    )
    assert failed.exit_code is None


async def test_environment_and_working_directory(supervisor: Supervisor, tmp_path: Path) -> None:
    code = "import os; print(os.getcwd(), os.environ['ROLE'], 'HOME' in os.environ)"
    supervisor.load(
        ServiceSpec("env", [sys.executable, "-c", code], env={"ROLE": "etcd"}, cwd=str(tmp_path))
    )
    await supervisor.start("env")
    await supervisor.wait_for("env", S.FINISHED, timeout=5)
    assert supervisor.logs("env").tail() == [f"{tmp_path} etcd False"]


async def test_prepare_runs_before_every_start(supervisor: Supervisor, tmp_path: Path) -> None:
    config = tmp_path / "config"

    async def prepare() -> None:
        config.write_text("written by prepare\n")

    argv = ["cat", str(config)]
    supervisor.load(ServiceSpec("reader", argv, prepare=prepare, restart=RestartPolicy.ONCE))
    await supervisor.start("reader")
    await supervisor.wait_for("reader", S.FINISHED, timeout=5)
    assert supervisor.logs("reader").tail() == ["written by prepare"]


async def test_stop_all_stops_dependents_first(
    state_dir: Path, listener: RecordingListener
) -> None:
    async with Supervisor(state_dir, listener) as supervisor:
        supervisor.load(
            ServiceSpec("db", ["sleep", "60"]),
            ServiceSpec("api", ["sleep", "60"], depends_on=["db"]),
            ServiceSpec("web", ["sleep", "60"], depends_on=["api"]),
        )
        for name in ("web", "api", "db"):
            await supervisor.start(name)
        await supervisor.wait_for("web", S.RUNNING, timeout=5)
        pids = [status.pid for status in supervisor.statuses()]
    stopping = [e.service for e in listener.events if e.state is S.STOPPING]
    assert stopping == ["web", "api", "db"]
    assert not any(pid is not None and process_alive(pid) for pid in pids)
    assert list((state_dir / "pids").iterdir()) == []
