"""The same tree gives the same squashfs and the same cpio, whatever the files' times, owners,
modes beyond the executable bit, or the order they were made in."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kiln import process
from kiln.image import cpio, squashfs

FILES = {"usr/bin/tool": b"\x7fELF program", "etc/conf": b"a=1\n", "usr/lib/a/b/data": b"x" * 5000}


def _tree(root: Path, order: list[str], mtime: int, umask_mode: int) -> Path:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(FILES[name])
        path.chmod(umask_mode | (0o111 if "bin" in name else 0))
        os.utime(path, (mtime, mtime))
    (root / "usr/bin/alias").symlink_to("tool")
    return root


needs_mksquashfs = pytest.mark.skipif(
    shutil.which("mksquashfs") is None, reason="needs mksquashfs (apt-get install squashfs-tools)"
)


@needs_mksquashfs
async def test_building_twice_gives_the_same_squashfs(tmp_path: Path) -> None:
    one = _tree(tmp_path / "one", sorted(FILES), 1_000_000, 0o600)
    two = _tree(tmp_path / "two", sorted(FILES, reverse=True), 2_000_000, 0o664)
    await squashfs.make(one, tmp_path / "one.sqfs")
    await squashfs.make(two, tmp_path / "two.sqfs")
    assert (tmp_path / "one.sqfs").read_bytes() == (tmp_path / "two.sqfs").read_bytes()
    listing = await process.run(["unsquashfs", "-lln", str(tmp_path / "one.sqfs")])
    lines = [line for line in listing.stdout.decode().splitlines() if "squashfs-root/" in line]
    assert lines and all(" 0/0 " in line for line in lines)
    tool = next(line for line in lines if line.endswith("/usr/bin/tool"))
    assert tool.startswith("-rwxr-xr-x") and "2023-11-14" in tool  # SOURCE_DATE_EPOCH


def test_the_cpio_is_the_same_and_well_formed(tmp_path: Path) -> None:
    one = _tree(tmp_path / "one", sorted(FILES), 1_000_000, 0o600)
    two = _tree(tmp_path / "two", sorted(FILES, reverse=True), 2_000_000, 0o664)
    console = cpio.Device("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    data = cpio.archive(one, (console,), mtime=7)
    assert data == cpio.archive(two, (console,), mtime=7)
    assert data.startswith(b"070701") and len(data) % 4 == 0
    names = []
    offset = 0
    while True:
        header = data[offset : offset + 110]
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = data[offset + 110 : offset + 110 + namesize - 1].decode()
        offset += 110 + namesize
        offset += -offset % 4
        offset += filesize + (-filesize % 4)
        if name == cpio.TRAILER:
            break
        names.append((name, fields[1], fields[5], (fields[9], fields[10])))
    assert [n[0] for n in names] == sorted(n[0] for n in names)
    assert ("dev/console", stat.S_IFCHR | 0o600, 7, (5, 1)) in names
    tool = next(n for n in names if n[0] == "usr/bin/tool")
    assert tool[1] == stat.S_IFREG | 0o755
