"""A reproducible ``newc`` cpio archive (what the kernel unpacks as an initramfs), written
from a tree plus a few device nodes: sorted entries, root-owned, one fixed timestamp."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Device:
    path: str
    mode: int  # including the type bits, e.g. stat.S_IFCHR | 0o600
    major: int
    minor: int


def _header(ino: int, mode: int, size: int, name: str, mtime: int, rdev: tuple[int, int]) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, mtime, size, 0, 0, rdev[0], rdev[1], len(encoded), 0)
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    return head + b"\0" * (-len(head) % 4)


def archive(tree: Path, devices: tuple[Device, ...] = (), mtime: int = 0) -> bytes:
    """The cpio of ``tree`` (paths relative to it) and ``devices``."""
    entries: list[tuple[str, Path | Device]] = []
    for directory, dirnames, filenames in os.walk(tree):
        for name in dirnames + filenames:
            path = Path(directory, name)
            entries.append((str(path.relative_to(tree)), path))
    entries += [(d.path, d) for d in devices]
    entries.sort(key=lambda e: e[0])
    parts = []
    for ino, (name, item) in enumerate(entries, start=1):
        if isinstance(item, Device):
            parts.append(_header(ino, item.mode, 0, name, mtime, (item.major, item.minor)))
            continue
        info = item.lstat()
        if stat.S_ISLNK(info.st_mode):
            data = str(item.readlink()).encode()
            mode = stat.S_IFLNK | 0o777
        elif stat.S_ISDIR(info.st_mode):
            data, mode = b"", stat.S_IFDIR | 0o755
        else:
            data = item.read_bytes()
            mode = stat.S_IFREG | (0o755 if info.st_mode & 0o111 else 0o644)
        parts.append(_header(ino, mode, len(data), name, mtime, (0, 0)))
        parts.append(data + b"\0" * (-len(data) % 4))
    parts.append(_header(0, 0, 0, TRAILER, 0, (0, 0)))
    return b"".join(parts)
