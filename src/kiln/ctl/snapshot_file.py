"""Save a stream of bytes to a file with mode 0600, atomically: the chunks go to a temporary
file beside the target, which replaces the target only once the stream ended and the data is
on disk. A failed stream leaves the target as it was."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from kiln.machinery.privatefile import PRIVATE_MODE


async def save_stream(chunks: AsyncIterator[bytes], path: Path) -> int:
    """Write every chunk to ``path``; the number of bytes written."""
    descriptor, name = await asyncio.to_thread(
        tempfile.mkstemp, dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    temporary = Path(name)
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(_sync, handle)
        await asyncio.to_thread(temporary.replace, path)
    finally:
        await asyncio.to_thread(temporary.unlink, True)  # gone once it replaced the target
    return size


def _sync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
