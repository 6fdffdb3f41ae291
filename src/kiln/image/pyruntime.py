"""Debian's Python 3.11, trimmed to what the node daemon needs, and compiled ahead of time.

Removed: tests, IDLE, tkinter, turtle, ensurepip, lib2to3, pydoc's data, distutils, venv,
curses, dbm, and extension modules for terminals, audio, NIS and testing. Every ``.py`` is
replaced by an unchecked-hash ``.pyc`` beside it (sourceless: the root is read-only, the image
smaller, and the hash keeps builds reproducible).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from kiln import process

STDLIB = "usr/lib/python3.11"
DYNLOAD = f"{STDLIB}/lib-dynload"
SITE_DIR = "usr/lib/python3/dist-packages"  # Kiln and its dependencies
TRIMMED_DIRS = (
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "distutils",
    "venv",
    "curses",
    "dbm",
    "unittest",
    "__phello__",
    "config-3.11-x86_64-linux-gnu",
    "xmlrpc",
    "wsgiref",
)
TRIMMED_FILES = (
    "turtle.py",
    "pydoc.py",
    "antigravity.py",
    "this.py",
    "__hello__.py",
    "doctest.py",
    "pdb.py",
    "EXTERNALLY-MANAGED",
)
TRIMMED_EXTENSIONS = (
    "_ctypes_test",
    "_curses",
    "_curses_panel",
    "_dbm",
    "_gdbm",
    "_test",  # every _test* module
    "_xxsubinterpreters",
    "_xxtestfuzz",
    "audioop",
    "nis",
    "ossaudiodev",
    "readline",
    "xxlimited",
    "_crypt",
    "_lsprof",
    "_codecs_",  # CJK codecs
)


def install(staged: Path, root: Path) -> None:
    """Copy the staged standard library into ``root`` without what is trimmed."""
    source = staged / STDLIB
    target = root / STDLIB
    shutil.copytree(
        source,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *TRIMMED_DIRS, *TRIMMED_FILES),
        dirs_exist_ok=True,
    )
    for extension in sorted((root / DYNLOAD).glob("*.so")):
        if extension.name.startswith(TRIMMED_EXTENSIONS):
            extension.unlink()


async def compile_tree(root: Path, directories: Iterable[str]) -> None:
    """Byte-compile ``directories`` of ``root`` as the image sees them (paths from ``/``)."""
    for directory in directories:
        await process.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "-f",
                "-b",
                "--invalidation-mode",
                "unchecked-hash",
                "-s",
                str(root),
                "-p",
                "/",
                str(root / directory),
            ],
            env={"PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "0"},
            timeout=900,
        )
        for source in sorted((root / directory).rglob("*.py")):
            if source.with_suffix(".pyc").exists():
                source.unlink()
