"""Write files that hold secrets: mode 0600, atomically, and all of a set or none of it.

Each file is first written in full to a temporary file next to its target (created 0600, so the
content is never readable by others), flushed to disk, and only then renamed over the target.
When several files are written together, every temporary file is complete before the first
rename, so a failure (disk full, permission denied) leaves no target half-written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def write_private_file(path: Path, data: bytes | str) -> None:
    """Write one file atomically with mode 0600."""
    write_private_files({path: data})


def write_private_files(files: Mapping[Path, bytes | str]) -> None:
    """Write every file atomically with mode 0600; on failure no target has changed.

    Raises OSError (with the offending filename) if a file cannot be written.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in files.items():
            staged.append((_stage(target, data), target))
        for temporary, target in staged:
            temporary.replace(target)
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; a new directory gets mode 0700."""
    if not path.is_dir():
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def _stage(target: Path, data: bytes | str) -> Path:
    raw = data.encode() if isinstance(data, str) else data
    try:
        descriptor, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:  # name the target, not the temporary file
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return temporary
