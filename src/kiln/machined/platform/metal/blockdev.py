"""Block devices as the kernel shows them in ``/sys``: the disk the root was mounted from, a
disk's partitions by GPT name, and what a partition holds (squashfs, ext4)."""

from __future__ import annotations

import os
import time
from pathlib import Path

SYS_BLOCK = Path("/sys/class/block")
SQUASHFS_MAGIC = b"hsqs"
EXT4_MAGIC_OFFSET, EXT4_MAGIC = 1080, b"\x53\xef"
SQUASHFS_BYTES_USED = 40  # offset of the u64 "bytes used" in the squashfs superblock


def root_device(mountinfo: str) -> str:
    """The device ``/`` is mounted from, from a ``/proc/self/mountinfo`` text ("" if none)."""
    found = ""
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 9 and fields[4] == "/":
            found = fields[fields.index("-") + 2]
    return found if found.startswith("/dev/") else ""


def disk_of(device: str, sys_block: Path = SYS_BLOCK) -> str:
    """The whole disk ``device`` (a partition or a disk, ``/dev/vda2``) belongs to: ``vda``."""
    name = Path(device).name
    if not (sys_block / name / "partition").exists():
        return name
    return Path(os.path.realpath(sys_block / name)).parent.name


def partitions(disk: str, sys_block: Path = SYS_BLOCK) -> dict[str, str]:
    """The GPT partitions of ``disk`` with a name: ``{"EFI": "/dev/vda1", ...}``."""
    found: dict[str, str] = {}
    directory = sys_block / disk
    if not directory.is_dir():
        return found
    for entry in sorted(directory.iterdir()):
        try:
            uevent = (entry / "uevent").read_text()
        except OSError:
            continue
        if "DEVTYPE=partition" not in uevent:
            continue
        for line in uevent.splitlines():
            if line.startswith("PARTNAME="):
                found[line.removeprefix("PARTNAME=")] = f"/dev/{entry.name}"
    return found


def wait_for_partitions(
    disk: str, names: set[str], within: float, sys_block: Path = SYS_BLOCK
) -> dict[str, str]:
    """:func:`partitions` once all of ``names`` and their device nodes are there."""
    deadline = time.monotonic() + within
    while True:
        found = partitions(disk, sys_block)
        if names <= set(found) and all(Path(found[n]).exists() for n in names):
            return found
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(names - set(found)))
            raise OSError(f"/dev/{disk}: partitions {missing} did not appear in {within:g}s")
        time.sleep(0.1)


def is_ext4(device: str) -> bool:
    try:
        with Path(device).open("rb") as f:
            f.seek(EXT4_MAGIC_OFFSET)
            return f.read(2) == EXT4_MAGIC
    except OSError:
        return False


def squashfs_size(device: str) -> int:
    """How many bytes of ``device`` the squashfs at its start uses (4 KiB multiple); OSError
    if it holds none."""
    with Path(device).open("rb") as f:
        head = f.read(SQUASHFS_BYTES_USED + 8)
    if head[:4] != SQUASHFS_MAGIC:
        raise OSError(f"{device}: no squashfs")
    used = int.from_bytes(head[SQUASHFS_BYTES_USED:], "little")
    return -(-used // 4096) * 4096


def size_of(device: str, sys_block: Path = SYS_BLOCK) -> int:
    """The size of a block device in bytes (0 if unknown)."""
    try:
        return int((sys_block / Path(device).name / "size").read_text()) * 512
    except (OSError, ValueError):
        return 0


def copy(source: str, target: str, size: int, chunk: int = 4 << 20) -> None:
    """The first ``size`` bytes of ``source`` onto ``target``, flushed to the device."""
    with Path(source).open("rb") as src, Path(target).open("r+b") as dst:
        left = size
        while left > 0:
            data = src.read(min(chunk, left))
            if not data:
                raise OSError(f"{source}: ended {left} bytes early")
            dst.write(data)
            left -= len(data)
        dst.flush()
        os.fsync(dst.fileno())
