"""Real Kubernetes v1.20.2 server binaries for the tests, built once by
``scripts/build-kubernetes`` into a cache outside the repository (see that script).

The first run builds (5-15 minutes on 2 cores, at the lowest priority); later runs find the
cache complete and return at once. Tests skip only where the build cannot run at all: no
``apt-get`` (not Debian), or neither root nor password-less sudo to install the build tools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "build-kubernetes"
VERSION = "v1.20.2"
BUILD_TIMEOUT = 3600


def _why_not_buildable() -> str | None:
    if shutil.which("apt-get") is None:
        return "building Kubernetes from Debian's source package needs apt-get (Debian 12)"
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.run([sudo, "-n", "true"], check=False).returncode != 0:
            return "building Kubernetes needs root or password-less sudo to install its tools"
    return None


def release_dir() -> Path:
    """The cached release directory (``<cache>/<debian-version>``), built if missing."""
    cached = subprocess.run(
        [sys.executable, str(SCRIPT), "--print-only"], capture_output=True, text=True, check=False
    )
    if cached.returncode == 0:
        return Path(cached.stdout.strip())
    reason = _why_not_buildable()
    if reason is not None:
        pytest.skip(f"no cached Kubernetes build and {reason}: run scripts/build-kubernetes")
    built = subprocess.run(
        ["nice", "-n", "19", sys.executable, str(SCRIPT)],
        stdout=subprocess.PIPE,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"scripts/build-kubernetes failed (exit {built.returncode}); see its output")
    return Path(built.stdout.strip().splitlines()[-1])
