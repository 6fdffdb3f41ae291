"""A reproducible zstd squashfs of a tree: modes normalized, every file owned by root, every
timestamp ``SOURCE_DATE_EPOCH``, entries sorted (mksquashfs sorts directories itself), no
extended attributes. The same tree gives the same bytes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kiln import process

SOURCE_DATE_EPOCH = 1700000000  # fixed: the image's files carry no build time
COMPRESSION_LEVEL = 15  # 19 saves under 1% at 128K blocks and takes twice as long
# 1M blocks make the root ~7% smaller but every small file read (Python's imports) then
# decompresses a whole megabyte: under emulation that added ~25 s to the boot.
BLOCK_SIZE = "128K"


def normalize(tree: Path) -> None:
    """Directories 0755, files 0755 when executable by anyone else 0644 (links untouched)."""
    for directory, dirnames, filenames in os.walk(tree):
        Path(directory).chmod(0o755)
        for name in filenames + [d for d in dirnames if Path(directory, d).is_symlink()]:
            path = Path(directory, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(0o755 if mode & 0o111 else 0o644)


def _prepare(tree: Path, output: Path) -> None:
    normalize(tree)
    output.unlink(missing_ok=True)


async def make(tree: Path, output: Path, epoch: int = SOURCE_DATE_EPOCH) -> None:
    await asyncio.to_thread(_prepare, tree, output)
    await process.run(
        [
            "mksquashfs",
            str(tree),
            str(output),
            "-noappend",
            "-quiet",
            "-no-progress",
            "-comp",
            "zstd",
            "-Xcompression-level",
            str(COMPRESSION_LEVEL),
            "-b",
            BLOCK_SIZE,
            "-all-root",
            "-no-xattrs",
            "-reproducible",
            "-mkfs-time",
            str(epoch),
            "-all-time",
            str(epoch),
        ],
        timeout=1800,
    )
