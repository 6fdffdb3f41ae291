"""IPv4 interface configuration with the classic ioctls: link up, address, netmask, routes.

Enough for DHCP on a node (one address per interface, a default route); the machine config's
network settings get a netlink-based implementation with the network controllers.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import socket
import struct
from pathlib import Path

SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
SIOCSIFADDR, SIOCSIFNETMASK, SIOCGIFHWADDR = 0x8916, 0x891C, 0x8927
SIOCADDRT = 0x890B
IFF_UP = 0x1
RTF_UP, RTF_GATEWAY = 0x1, 0x2
ARPHRD_ETHER = 1


def ethernet_interfaces(sys_root: Path = Path("/sys")) -> list[str]:
    """Names of the Ethernet interfaces (type 1, not loopback), sorted."""
    found = []
    net = sys_root / "class" / "net"
    for entry in sorted(net.iterdir()) if net.exists() else []:
        try:
            kind = int((entry / "type").read_text().strip())
        except (OSError, ValueError):
            continue
        if kind == ARPHRD_ETHER and entry.name != "lo":
            found.append(entry.name)
    return found


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return struct.pack("16s", name.encode()) + payload.ljust(24, b"\0")


def _sockaddr(address: str) -> bytes:
    return struct.pack("<H2s4s8s", socket.AF_INET, b"\0\0", socket.inet_aton(address), b"")


def _ioctl(request: int, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return fcntl.ioctl(s.fileno(), request, data)


def hardware_address(name: str) -> bytes:
    answer = _ioctl(SIOCGIFHWADDR, _ifreq(name))
    return answer[18:24]


def link_up(name: str) -> None:
    flags = struct.unpack_from("H", _ioctl(SIOCGIFFLAGS, _ifreq(name)), 16)[0]
    _ioctl(SIOCSIFFLAGS, _ifreq(name, struct.pack("H", flags | IFF_UP)))


def set_address(name: str, interface: ipaddress.IPv4Interface) -> None:
    _ioctl(SIOCSIFADDR, _ifreq(name, _sockaddr(str(interface.ip))))
    _ioctl(SIOCSIFNETMASK, _ifreq(name, _sockaddr(str(interface.netmask))))


class _RouteEntry(ctypes.Structure):
    """``struct rtentry`` of ``<net/route.h>``."""

    _fields_ = (
        ("pad1", ctypes.c_ulong),
        ("dst", ctypes.c_char * 16),
        ("gateway", ctypes.c_char * 16),
        ("genmask", ctypes.c_char * 16),
        ("flags", ctypes.c_ushort),
        ("pad2", ctypes.c_short),
        ("pad3", ctypes.c_ulong),
        ("pad4", ctypes.c_void_p),
        ("metric", ctypes.c_short),
        ("dev", ctypes.c_char_p),
        ("mtu", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("irtt", ctypes.c_ushort),
    )


def add_default_route(name: str, gateway: str) -> None:
    """``default via gateway dev name``; an existing identical route is fine."""
    entry = _RouteEntry()
    entry.dst = _sockaddr("0.0.0.0")
    entry.gateway = _sockaddr(gateway)
    entry.genmask = _sockaddr("0.0.0.0")
    entry.flags = RTF_UP | RTF_GATEWAY
    entry.dev = name.encode()
    with contextlib.suppress(FileExistsError):
        _ioctl(SIOCADDRT, bytes(entry))
