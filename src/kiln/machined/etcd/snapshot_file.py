"""Writing a snapshot stream to a file as etcdctl does: to ``<path>.part`` first, synced, then
renamed to ``path``, so ``path`` only ever holds a whole snapshot. The bytes are etcd's own,
unchanged: the stream ends with the SHA-256 that ``etcdutl snapshot restore`` checks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable
from pathlib import Path

PART_SUFFIX = ".part"
FILE_MODE = 0o600


async def write_snapshot(chunks: AsyncIterable[bytes], path: str | os.PathLike[str]) -> int:
    """Write ``chunks`` to ``path`` (replaced atomically); the number of bytes written. On any
    failure the partial file is removed and ``path`` is left as it was."""
    final = Path(path)
    part = final.with_name(final.name + PART_SUFFIX)
    fd = await asyncio.to_thread(
        os.open, part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE
    )
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in chunks:
                handle.write(chunk)  # into the page cache; synced once below
                written += len(chunk)
            await asyncio.to_thread(_sync, handle.fileno())
        await asyncio.to_thread(_publish, part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return written


def _sync(fd: int) -> None:
    os.fsync(fd)


def _publish(part: Path, final: Path) -> None:
    part.rename(final)
    directory = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
