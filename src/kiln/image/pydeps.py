"""Kiln's locked Python dependencies as cp311 manylinux wheels, installed into a directory.

The requirements come from ``uv.lock`` (``uv export --frozen --no-dev``), so the image runs
exactly the versions the tests ran. Installed trees are cached by the requirements' hash.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from kiln import process
from kiln.image.errors import ImageError

PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_36"  # Debian 12's glibc 2.36
# what only kilnctl uses (tables, colours, local VM networks): not installed on a node
CLIENT_ONLY = frozenset({"rich", "pygments", "markdown-it-py", "mdurl", "pyroute2"})
# what only the hub uses (its PostgreSQL backend): not installed on a node either
HUB_ONLY = frozenset({"asyncpg"})
NOT_ON_NODE = CLIENT_ONLY | HUB_ONLY


def uv_binary() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise ImageError(
            "uv is needed to install Kiln's Python dependencies (scripts/dev sets it up)"
        )
    return found


async def export_requirements(project: Path) -> str:
    """The locked runtime requirements of the project (no dev group, not the project)."""
    done = await process.run(
        [
            uv_binary(),
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-header",
            "--format",
            "requirements-txt",
        ],
        cwd=project,
        env={"UV_PYTHON_DOWNLOADS": "never"},
        inherit_env=True,
        timeout=300,
    )
    return done.stdout.decode()


async def install(requirements: str, cache: Path) -> Path:
    """The requirements (less :data:`NOT_ON_NODE`) installed for the image's Python under
    ``cache/pydeps/<key>``."""
    requirements = node_requirements(requirements)
    key = hashlib.sha256(f"{PLATFORM}\n{requirements}".encode()).hexdigest()[:20]
    target = cache / "pydeps" / key
    if (target / ".complete").exists():
        return target
    partial = target.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "requirements.txt").write_text(requirements)
    await process.run(
        [
            uv_binary(),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            PLATFORM,
            "--target",
            str(partial / "site"),
            "-r",
            str(partial / "requirements.txt"),
        ],
        env={"UV_PYTHON_DOWNLOADS": "never"},
        inherit_env=True,  # the machine's index and certificate settings
        timeout=1800,
    )
    shutil.rmtree(partial / "site" / "bin", ignore_errors=True)
    (partial / ".complete").write_text("")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def node_requirements(requirements: str) -> str:
    """``requirements`` (``uv export`` format) without the :data:`NOT_ON_NODE` packages."""
    kept: list[str] = []
    skipping = False
    for line in requirements.splitlines():
        if not line.startswith((" ", "#")):
            name = line.split("==")[0].split(";")[0].strip().lower()
            skipping = name in NOT_ON_NODE
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"
