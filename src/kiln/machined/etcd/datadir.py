"""The member's data directory: whether it holds a member's data, making it, wiping it.

etcd keeps its write-ahead log in ``<data-dir>/member/wal`` and its database in
``<data-dir>/member/snap/db``. A data directory with WAL files belongs to a member that has
started at least once: etcd restarts from it and ignores its initial-cluster flags.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

DATA_DIR_MODE = 0o700  # etcd warns about, and refuses in later versions, anything wider


def wal_dir(data_dir: Path) -> Path:
    return data_dir / "member" / "wal"


def has_data(data_dir: str | os.PathLike[str]) -> bool:
    """Whether ``data_dir`` holds a member's write-ahead log."""
    wal = wal_dir(Path(data_dir))
    return wal.is_dir() and any(wal.glob("*.wal"))


def is_empty(data_dir: str | os.PathLike[str]) -> bool:
    """Whether ``data_dir`` is missing or an empty directory."""
    path = Path(data_dir)
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def ensure_data_dir(data_dir: str | os.PathLike[str]) -> None:
    """Create ``data_dir`` (and parents) if missing and give it mode 0700."""
    path = Path(data_dir)
    path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DATA_DIR_MODE)


async def wipe_data_dir(data_dir: str | os.PathLike[str]) -> None:
    """Delete ``data_dir`` and everything in it (nothing happens if it is missing)."""
    await asyncio.to_thread(_remove_tree, Path(data_dir))


def _remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
