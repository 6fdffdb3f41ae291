"""PID 1's duties: the kernel filesystems, reaping orphans, powering off and rebooting.

Orphans are reparented to PID 1 and must be reaped, but children the daemon started itself are
reaped by :mod:`kiln.process` through their pidfd, one pid at a time, and a ``waitpid(-1)``
here would steal their exit statuses. So the reaper scans ``/proc`` for zombies whose parent is
this process and reaps one only when it was already a zombie at the previous scan (same pid,
same start time): a child the daemon waits for is reaped by its waiter within milliseconds.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the resource definitions load with the node, after the API is up
    from kiln.machinery.resources import MountStatusSpec

logger = logging.getLogger(__name__)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_RELATIME = 1, 2, 4, 8, 1 << 21
RB_AUTOBOOT, RB_POWER_OFF, RB_DISABLE_CAD = 0x01234567, 0x4321FEDC, 0
REAP_INTERVAL = 2.0


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    fstype: str
    flags: int
    data: str = ""


MOUNTS = (
    Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    Mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    Mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"),
    Mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666"),
    Mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
    Mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"),
    Mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
    Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME),
)

_libc = ctypes.CDLL(None, use_errno=True)


def mounted(mountinfo: str) -> set[str]:
    """The mount points listed in a ``/proc/self/mountinfo`` text."""
    return {line.split()[4] for line in mountinfo.splitlines() if len(line.split()) > 4}


def mount_table(mountinfo: str) -> dict[str, tuple[str, str, str]]:
    """``{mount point: (source, type, options)}`` from a ``/proc/self/mountinfo`` text (the
    last mount on a point wins)."""
    table = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        table[fields[4]] = (fields[dash + 2], fields[dash + 1], fields[5])
    return table


def mount_status() -> dict[str, MountStatusSpec]:
    """What is mounted now, and whether each mount can be written (``access(2)`` says EROFS
    on a read-only one)."""
    from kiln.machinery.resources import MountStatusSpec

    table = mount_table(Path("/proc/self/mountinfo").read_text())
    return {
        point: MountStatusSpec(
            source=source, fstype=fstype, options=options, writable=os.access(point, os.W_OK)
        )
        for point, (source, fstype, options) in table.items()
    }


def mount(spec: Mount) -> None:
    Path(spec.target).mkdir(parents=True, exist_ok=True)
    result = _libc.mount(
        spec.source.encode(),
        spec.target.encode(),
        spec.fstype.encode(),
        ctypes.c_ulong(spec.flags),
        spec.data.encode() if spec.data else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {spec.fstype} on {spec.target}: {os.strerror(err)}")


def unmount(target: str) -> None:
    if _libc.umount2(target.encode(), 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def mount_kernel_filesystems() -> None:
    """Mount what is not mounted yet of :data:`MOUNTS` (the initramfs moved some in)."""
    mountinfo = Path("/proc/self/mountinfo")
    for spec in MOUNTS:
        if spec.target == "/proc" and mountinfo.exists():
            continue
        if spec.target not in mounted(mountinfo.read_text()):
            mount(spec)


def zombies(proc: Path, parent: int) -> set[tuple[int, str]]:
    """(pid, start time) of the zombie children of ``parent`` in ``proc``."""
    found = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 19 and fields[0] == "Z" and int(fields[1]) == parent:
            found.add((int(entry.name), fields[19]))
    return found


class Reaper:
    """Reaps orphans left to PID 1 (see the module docstring)."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc
        self._seen: set[tuple[int, str]] = set()
        self.reaped = 0

    def scan(self) -> list[int]:
        now = zombies(self.proc, os.getpid())
        stale = sorted(pid for pid, start in now & self._seen)
        self._seen = now - {(pid, start) for pid, start in now if pid in stale}
        for pid in stale:
            try:
                os.waitpid(pid, os.WNOHANG)
                self.reaped += 1
            except ChildProcessError:
                pass
        return stale

    async def run(self) -> None:
        while True:
            self.scan()
            await asyncio.sleep(REAP_INTERVAL)


def disable_ctrl_alt_del() -> None:
    """Ctrl-Alt-Del sends SIGINT to PID 1 (a graceful shutdown) instead of resetting at once."""
    if _libc.reboot(RB_DISABLE_CAD) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"reboot(2) CAD_OFF: {os.strerror(err)}")


def power(reboot: bool) -> None:
    """Sync the disks and power off (or reboot) now. Only PID 1 may do this."""
    os.sync()
    if _libc.reboot(RB_AUTOBOOT if reboot else RB_POWER_OFF) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"reboot(2): {os.strerror(err)}")
