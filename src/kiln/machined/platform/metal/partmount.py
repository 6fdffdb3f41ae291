"""Mounting a disk's partitions for a moment (the ESP to change boot entries, a new STATE to
write the config into, the boot medium's ESP to read), then unmounting them, flushed."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from kiln.machined.platform.metal import kmod, pid1

MOUNT_BASE = Path("/run/kiln/mnt")
FAT_MODULES = ("vfat", "nls_cp437", "nls_ascii")
_counter = itertools.count()


@contextlib.contextmanager
def mounted(device: str, fstype: str, *, readonly: bool = False) -> Iterator[Path]:
    """``device`` mounted (``vfat`` or ``ext4``) on a fresh directory for the block."""
    if fstype == "vfat":
        kmod.load(*FAT_MODULES)
    target = MOUNT_BASE / f"{Path(device).name}-{next(_counter)}"
    target.mkdir(parents=True, exist_ok=True)
    flags = pid1.MS_NOSUID | pid1.MS_NODEV | pid1.MS_NOEXEC | (pid1.MS_RDONLY if readonly else 0)
    pid1.mount(pid1.Mount(device, str(target), fstype, flags))
    try:
        yield target
    finally:
        os.sync()
        pid1.unmount(str(target))
        target.rmdir()
