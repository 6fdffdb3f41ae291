"""Service output in size-capped logs on disk: captured, capped, kept across restarts, followed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from kiln.machined.services import RestartPolicy, ServiceSpec, ServiceState, Supervisor

pytestmark = pytest.mark.integration

S = ServiceState


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def test_stdout_and_stderr_go_to_the_log(supervisor: Supervisor) -> None:
    code = "import sys; print('to stdout', flush=True); print('to stderr', file=sys.stderr)"
    supervisor.load(ServiceSpec("talker", python(code), restart=RestartPolicy.ONCE))
    await supervisor.start("talker")
    await supervisor.wait_for("talker", S.FINISHED, timeout=5)
    log = supervisor.logs("talker")
    assert log.tail() == ["to stdout", "to stderr"]
    assert log.path == supervisor.state_dir / "logs" / "talker.log"


async def test_log_size_is_capped_and_keeps_the_newest(supervisor: Supervisor) -> None:
    code = "for i in range(20000): print(f'line {i:05d}')"
    spec = ServiceSpec("chatty", python(code), restart=RestartPolicy.ONCE, log_max_bytes=8192)
    supervisor.load(spec)
    await supervisor.start("chatty")
    await supervisor.wait_for("chatty", S.FINISHED, timeout=10)
    log = supervisor.logs("chatty")
    assert log.path.stat().st_size <= 8192
    assert log.rotated_path.stat().st_size <= 8192
    kept = log.tail()
    assert kept[-1] == "line 19999"
    assert len(kept) > 8192 // 11


async def test_logs_survive_a_supervisor_restart(state_dir: Path) -> None:
    spec = ServiceSpec("etcd", python("print('hello from run', 1)"), restart=RestartPolicy.ONCE)
    async with Supervisor(state_dir) as first:
        first.load(spec)
        await first.start("etcd")
        await first.wait_for("etcd", S.FINISHED, timeout=5)

    async with Supervisor(state_dir) as second:
        second.load(spec)
        assert second.logs("etcd").tail() == ["hello from run 1"]
        await second.start("etcd")
        await second.wait_for("etcd", S.FINISHED, timeout=5)
        assert second.logs("etcd").tail() == ["hello from run 1", "hello from run 1"]


async def test_follow_yields_lines_as_they_are_written(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    code = (
        "import pathlib, time\n"
        "print('before', flush=True)\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
        "for i in range(3): print('after', i, flush=True)\n"
        "time.sleep(60)\n"
    )
    supervisor.load(ServiceSpec("slow", python(code)))
    await supervisor.start("slow")
    lines = supervisor.logs("slow").follow(10)
    async with asyncio.timeout(5):
        assert await anext(lines) == "before"
        go.touch()
        assert [await anext(lines) for _ in range(3)] == ["after 0", "after 1", "after 2"]
    await lines.aclose()


async def test_follow_continues_across_restarts_of_the_service(supervisor: Supervisor) -> None:
    spec = ServiceSpec("tick", python("print('tick')"), restart=RestartPolicy.ONCE)
    supervisor.load(spec)
    lines = supervisor.logs("tick").follow(0)
    async with asyncio.timeout(5):
        for _ in range(3):
            await supervisor.start("tick")
            assert await anext(lines) == "tick"
            await supervisor.wait_for("tick", S.FINISHED, timeout=5)
            await supervisor.stop("tick")
    await lines.aclose()
