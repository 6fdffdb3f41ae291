"""A reproducible squashfs of a tree: modes normalized, every file owned by root, every
timestamp ``SOURCE_DATE_EPOCH``, entries sorted (mksquashfs sorts directories itself), no
extended attributes. The same tree gives the same bytes. The root is zstd with 128K blocks
(:data:`ZSTD`); the programs image inside it xz with 1M blocks (:data:`XZ_X86`)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from kiln import process

SOURCE_DATE_EPOCH = 1700000000  # fixed: the image's files carry no build time
COMPRESSION_LEVEL = 15  # 19 saves under 1% at 128K blocks and takes twice as long


@dataclass(frozen=True)
class Compression:
    """mksquashfs's compressor options and block size."""

    options: tuple[str, ...]
    block_size: str


# 1M blocks make the root ~7% smaller but every small file read (Python's imports) then
# decompresses a whole megabyte: under emulation that added ~25 s to the boot.
ZSTD = Compression(("-comp", "zstd", "-Xcompression-level", str(COMPRESSION_LEVEL)), "128K")
# large programs read in big runs of pages: xz with the x86 branch filter and 1M blocks
# makes the Go programs ~19% smaller than ZSTD does
XZ_X86 = Compression(("-comp", "xz", "-Xbcj", "x86"), "1M")


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


async def make(
    tree: Path, output: Path, epoch: int = SOURCE_DATE_EPOCH, compression: Compression = ZSTD
) -> None:
    await asyncio.to_thread(_prepare, tree, output)
    await process.run(
        [
            "mksquashfs",
            str(tree),
            str(output),
            "-noappend",
            "-quiet",
            "-no-progress",
            *compression.options,
            "-b",
            compression.block_size,
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
