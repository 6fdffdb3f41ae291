"""Read-only facts about the host: its addresses, hardware and versions, from /proc and /sys.

Every function takes the root of ``/proc`` or ``/sys`` as an argument (tests point it at a
directory of their own) and returns what it could read: a missing or unreadable file means
"unknown", never an error.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kiln import __version__

PROC = Path("/proc")
SYS = Path("/sys")
SECTOR = 512
_SKIP_DISKS = ("loop", "ram", "zram", "dm-", "sr", "fd")


@dataclass(frozen=True)
class Disk:
    device: str
    size: int
    model: str = ""
    serial: str = ""


@dataclass(frozen=True)
class Hardware:
    cpus: int
    memory: int  # bytes
    disks: list[Disk] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    product_uuid: str = ""


@dataclass(frozen=True)
class Versions:
    tag: str
    python: str
    os: str
    arch: str


@functools.cache
def versions() -> Versions:
    return Versions(
        tag=__version__,
        python=platform.python_version(),
        os=f"{platform.system()} {platform.release()}",
        arch=platform.machine(),
    )


def system_hostname() -> str:
    return socket.gethostname()


def local_addresses(proc: Path = PROC) -> list[str]:
    """The host's IP addresses without loopback and IPv6 link-local ones, sorted."""
    found: set[str] = set()
    previous = ""
    for line in _lines(proc / "net" / "fib_trie"):
        text = line.strip()
        if text.startswith("|-- "):
            previous = text[4:]
        elif text.startswith("/32 host LOCAL") and previous:
            found.add(previous)
    for line in _lines(proc / "net" / "if_inet6"):
        raw = line.split()[0] if line.split() else ""
        if len(raw) == 32:
            found.add(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    usable = [
        ipaddress.ip_address(a)
        for a in found
        if not ipaddress.ip_address(a).is_loopback and not ipaddress.ip_address(a).is_link_local
    ]
    return [str(a) for a in sorted(usable, key=lambda a: (a.version, a))]


#: Filesystems whose content is gone after a reboot.
VOLATILE_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "rootfs"})


def filesystem_of(path: Path, proc: Path = PROC) -> str:
    """The type of the filesystem ``path`` is on (the mount with the longest matching mount
    point in ``/proc/self/mountinfo``); "" if unknown."""
    best, kind = "", ""
    target = str(path.absolute())
    for line in _lines(proc / "self" / "mountinfo"):
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, line.split(" - ", 1)[1].split()[0]
    return kind


def survives_reboot(path: Path, proc: Path = PROC) -> bool:
    """Whether what is written under ``path`` is still there after the machine reboots."""
    return filesystem_of(path, proc) not in VOLATILE_FILESYSTEMS


def hardware(proc: Path = PROC, sys_root: Path = SYS) -> Hardware:
    return Hardware(
        cpus=os.cpu_count() or 0,
        memory=_memory(proc),
        disks=_disks(sys_root),
        interfaces=sorted(p.name for p in _children(sys_root / "class" / "net")),
        product_uuid=_read(sys_root / "class" / "dmi" / "id" / "product_uuid"),
    )


def _memory(proc: Path) -> int:
    for line in _lines(proc / "meminfo"):
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return 0


def _disks(sys_root: Path) -> list[Disk]:
    disks = []
    for block in sorted(_children(sys_root / "block"), key=lambda p: p.name):
        if block.name.startswith(_SKIP_DISKS):
            continue
        sectors = _read(block / "size")
        disks.append(
            Disk(
                device=f"/dev/{block.name}",
                size=int(sectors) * SECTOR if sectors.isdigit() else 0,
                model=_read(block / "device" / "model"),
                serial=_read(block / "device" / "serial") or _read(block / "serial"),
            )
        )
    return disks


def _children(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError:
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _lines(path: Path) -> list[str]:
    text = _read(path)
    return text.splitlines() if text else []
