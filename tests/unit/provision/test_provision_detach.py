"""A program started through a launcher that execs it (as a VM is, inside its network
namespace) is recorded once it runs: the record finds it alive at once."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from kiln.provision import daemons


def test_a_launched_program_is_alive_as_soon_as_it_is_recorded(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    program = [sleep, "30"]
    launcher = ["/bin/sh", "-c", f"sleep 0.3; exec {sleep} 30"]
    started = daemons.detach(launcher, tmp_path / "launcher.log", recorded=program)
    try:
        assert started.argv == program
        assert daemons.alive(started)  # not the launcher's command line any more
    finally:
        assert started.pid is not None
        os.kill(started.pid, signal.SIGKILL)
