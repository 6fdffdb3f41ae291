"""How kiln.process describes exits and failures (no processes run here)."""

from __future__ import annotations

import signal

from kiln.errors import KilnError
from kiln.process import DEFAULT_PATH, ProcessError, ProcessTimeoutError, describe_exit


def test_describe_exit_codes_and_signals() -> None:
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGTERM) == "killed by SIGTERM"
    assert describe_exit(-200) == "killed by signal 200"


def test_error_names_the_program_reason_and_last_stderr_line() -> None:
    stderr = b"".join(f"line {i}\n".encode() for i in range(20)) + b"\n  \nfatal: no disk\n"
    err = ProcessError(["/usr/bin/mkfs", "-q"], "exited with code 1", returncode=1, stderr=stderr)
    assert isinstance(err, KilnError)
    assert str(err) == "/usr/bin/mkfs exited with code 1: fatal: no disk"
    assert err.returncode == 1
    assert err.stderr_tail[-1] == "fatal: no disk"
    assert len(err.stderr_tail) == 10
    lines = err.lines()
    assert lines[0] == "/usr/bin/mkfs exited with code 1; its stderr ended with:"
    assert lines[1:] == err.stderr_tail


def test_error_without_stderr_is_one_line() -> None:
    err = ProcessError(["sleep", "9"], "killed by SIGKILL", returncode=-9)
    assert str(err) == "sleep killed by SIGKILL"
    assert err.lines() == ["sleep killed by SIGKILL"]


def test_undecodable_stderr_is_replaced_not_raised() -> None:
    err = ProcessError(["x"], "exited with code 2", stderr=b"bad \xff byte\n")
    assert str(err) == "x exited with code 2: bad \ufffd byte"


def test_timeout_is_a_process_error() -> None:
    assert issubclass(ProcessTimeoutError, ProcessError)


def test_default_path_covers_the_usual_directories() -> None:
    assert DEFAULT_PATH.split(":")[-2:] == ["/sbin", "/bin"]
