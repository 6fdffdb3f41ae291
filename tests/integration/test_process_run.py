"""kiln.process with real programs: output, environment, failures, timeouts, termination."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kiln import process
from kiln.machined.services.pidfile import process_alive, wait_gone
from kiln.process import DEFAULT_PATH, ProcessError, ProcessTimeoutError

pytestmark = pytest.mark.integration

PY = sys.executable


def python(code: str) -> list[str]:
    return [PY, "-c", code]


def read_line(path: Path) -> str | None:
    """The line another process writes to ``path``, once it is complete."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return text.strip() if text.endswith("\n") else None


async def wait_for_line(path: Path) -> str:
    async with asyncio.timeout(5):
        while (line := read_line(path)) is None:  # noqa: ASYNC110 - written by another process
            await asyncio.sleep(0.01)
    return line


async def test_run_captures_output() -> None:
    done = await process.run(python("import sys; print('out'); print('err', file=sys.stderr)"))
    assert done.returncode == 0
    assert done.stdout == b"out\n"
    assert done.stderr == b"err\n"
    assert done.argv[0] == PY


async def test_the_command_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="kiln.process")
    await process.run(["echo", "two words"])
    assert [r.getMessage() for r in caplog.records] == ["running echo 'two words'"]


async def test_run_feeds_input() -> None:
    done = await process.run(["cat"], input=b"hello")
    assert done.stdout == b"hello"


async def test_environment_is_minimal_and_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_TEST_SECRET", "leak")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    env = json.loads((await process.run(python(code), env={"ONLY": "this"})).stdout)
    assert env["PATH"] == DEFAULT_PATH
    assert env["ONLY"] == "this"
    assert "KILN_TEST_SECRET" not in env
    assert "HOME" not in env
    inherited = json.loads((await process.run(python(code), inherit_env=True)).stdout)
    assert inherited["KILN_TEST_SECRET"] == "leak"


async def test_cwd(tmp_path: Path) -> None:
    done = await process.run(python("import os; print(os.getcwd())"), cwd=tmp_path)
    assert done.stdout.decode().strip() == str(tmp_path)


async def test_failure_names_program_exit_code_and_stderr_tail() -> None:
    code = "import sys; print('warming up', file=sys.stderr); sys.exit('boom: disk full')"
    with pytest.raises(ProcessError) as caught:
        await process.run(python(code))
    assert str(caught.value) == f"{PY} exited with code 1: boom: disk full"
    assert caught.value.returncode == 1
    assert caught.value.stderr_tail == ["warming up", "boom: disk full"]


async def test_failure_by_signal_is_decoded() -> None:
    with pytest.raises(ProcessError, match=r"killed by SIGKILL$"):
        await process.run(python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))


async def test_unchecked_failure_is_returned() -> None:
    done = await process.run(["false"], check=False)
    assert done.returncode == 1


async def test_missing_program() -> None:
    with pytest.raises(ProcessError, match="could not be started: No such file or directory"):
        await process.run(["/nonexistent/kiln-test-program"])


async def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{child.pid}}\\n')\n"
        "child.wait()\n"
    )
    started = time.monotonic()
    with pytest.raises(ProcessTimeoutError, match=r"timed out after 1s and was killed"):
        await process.run(python(code), timeout=1)
    assert time.monotonic() - started < 4
    grandchild = int(read_line(pidfile) or 0)
    await asyncio.wait_for(wait_gone(grandchild), 2)


async def test_timeout_error_carries_the_stderr_so_far() -> None:
    code = "import sys, time; print('stuck on lock', file=sys.stderr, flush=True); time.sleep(60)"
    with pytest.raises(ProcessTimeoutError) as caught:
        await process.run(python(code), timeout=0.5)
    assert str(caught.value).endswith("timed out after 0.5s and was killed: stuck on lock")


async def test_what_a_program_leaves_in_its_group_is_killed_when_it_exits() -> None:
    code = "import subprocess; print(subprocess.Popen(['sleep', '60']).pid)"
    done = await process.run(python(code))
    leftover = int(done.stdout)
    await asyncio.wait_for(wait_gone(leftover), 2)


async def test_a_pipe_held_open_outside_the_group_does_not_hang_run() -> None:
    code = (
        "import subprocess\n"
        "escaped = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(escaped.pid, flush=True)\n"
    )
    started = time.monotonic()
    done = await process.run(python(code), timeout=10)
    assert time.monotonic() - started < 3  # the exit, then at most the drain timeout
    escaped = int(done.stdout)
    assert process_alive(escaped)
    os.kill(escaped, signal.SIGKILL)


async def test_cancelling_run_kills_the_program(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    code = (
        f"import os, time; open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}\\n'); time.sleep(60)"
    )
    task = asyncio.create_task(process.run(python(code)), name="run sleeper")
    pid = int(await wait_for_line(pidfile))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not process_alive(pid)


IGNORES_TERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


async def test_terminate_is_graceful_first() -> None:
    child = await process.spawn(["sleep", "60"])
    assert await process.terminate(child, grace=5) == -signal.SIGTERM


async def test_terminate_kills_what_ignores_sigterm_after_the_grace() -> None:
    child = await process.spawn(python(IGNORES_TERM))
    assert child.output is not None
    assert await asyncio.wait_for(child.output.readline(), 5) == b"ready\n"
    started = time.monotonic()
    assert await process.terminate(child, grace=0.3) == -signal.SIGKILL
    assert 0.3 <= time.monotonic() - started < 3


async def test_terminate_finishes_even_when_cancelled() -> None:
    child = await process.spawn(python(IGNORES_TERM))
    assert child.output is not None
    assert await asyncio.wait_for(child.output.readline(), 5) == b"ready\n"
    stopping = asyncio.create_task(process.terminate(child, grace=0.3), name="stop")
    await asyncio.sleep(0.05)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert child.returncode == -signal.SIGKILL  # the kill completed before the cancellation


async def test_spawned_children_lead_their_own_group() -> None:
    child = await process.spawn(["sleep", "60"], capture_output=False)
    try:
        assert child.output is None
        assert os.getpgid(child.pid) == child.pid
        assert os.getsid(child.pid) == child.pid
    finally:
        await process.terminate(child, grace=1)
    assert "sleep" in repr(child)
