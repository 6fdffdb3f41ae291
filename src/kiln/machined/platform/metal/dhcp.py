"""A small DHCPv4 client (RFC 2131): DISCOVER, OFFER, REQUEST, ACK on one interface, then
the address, netmask, default route and DNS servers configured, renewed at half the lease.

It talks UDP from port 68 bound to the interface (``SO_BINDTODEVICE``) with the broadcast
flag set, so the server's answers reach it before the interface has an address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiln.machined.platform.metal import netif

logger = logging.getLogger(__name__)

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6
OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME = 1, 3, 6, 12
OPT_REQUESTED_IP, OPT_LEASE, OPT_TYPE, OPT_SERVER, OPT_PARAMS, OPT_END = 50, 51, 53, 54, 55, 255
BROADCAST_FLAG = 0x8000
ATTEMPT_TIMEOUT = 2.0
RETRY_DELAY_MAX = 30.0
RESOLV_CONF = Path("/run/resolv.conf")


@dataclass(frozen=True)
class Lease:
    interface: str
    address: ipaddress.IPv4Interface
    router: str | None
    dns: tuple[str, ...]
    server: str
    seconds: int
    hostname: str | None = None


@dataclass
class Reply:
    xid: int
    kind: int
    yiaddr: str
    options: dict[int, bytes] = field(default_factory=dict)


def message(kind: int, xid: int, mac: bytes, extra: dict[int, bytes] | None = None) -> bytes:
    """A BOOTREQUEST of DHCP message type ``kind``."""
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1,
        1,
        6,
        0,
        xid,
        0,
        BROADCAST_FLAG,
        b"\0" * 4,
        b"\0" * 4,
        b"\0" * 4,
        b"\0" * 4,
        mac.ljust(16, b"\0"),
        b"",
        b"",
    )
    options = {OPT_TYPE: bytes([kind]), OPT_PARAMS: bytes([1, 3, 6, 12, 15, 51, 54])}
    options.update(extra or {})
    body = b"".join(bytes([code, len(value)]) + value for code, value in options.items())
    return head + MAGIC + body + bytes([OPT_END])


def parse(data: bytes) -> Reply | None:
    """A BOOTREPLY with its options, or None for anything else."""
    if len(data) < 240 or data[0] != 2 or data[236:240] != MAGIC:
        return None
    xid = struct.unpack_from("!I", data, 4)[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    options: dict[int, bytes] = {}
    index = 240
    while index < len(data):
        code = data[index]
        if code == OPT_END:
            break
        if code == 0:
            index += 1
            continue
        if index + 1 >= len(data):
            break
        length = data[index + 1]
        options[code] = data[index + 2 : index + 2 + length]
        index += 2 + length
    kind = options.get(OPT_TYPE, b"\0")[0]
    return Reply(xid, kind, yiaddr, options)


def lease_from(interface: str, reply: Reply) -> Lease:
    mask = socket.inet_ntoa(reply.options.get(OPT_MASK, b"\xff\xff\xff\x00"))
    router = reply.options.get(OPT_ROUTER, b"")
    dns = reply.options.get(OPT_DNS, b"")
    return Lease(
        interface=interface,
        address=ipaddress.IPv4Interface(f"{reply.yiaddr}/{mask}"),
        router=socket.inet_ntoa(router[:4]) if len(router) >= 4 else None,
        dns=tuple(socket.inet_ntoa(dns[i : i + 4]) for i in range(0, len(dns) - 3, 4)),
        server=socket.inet_ntoa(reply.options.get(OPT_SERVER, b"\0\0\0\0")),
        seconds=struct.unpack("!I", reply.options.get(OPT_LEASE, b"\0\0\x0e\x10"))[0],
        hostname=reply.options[OPT_HOSTNAME].decode(errors="replace")
        if OPT_HOSTNAME in reply.options
        else None,
    )


def _socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sock.bind(("0.0.0.0", 68))
    sock.settimeout(ATTEMPT_TIMEOUT)
    return sock


def _exchange(sock: socket.socket, request: bytes, xid: int, wanted: tuple[int, ...]) -> Reply:
    sock.sendto(request, ("255.255.255.255", 67))
    deadline = time.monotonic() + ATTEMPT_TIMEOUT
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        reply = parse(data)
        if reply is not None and reply.xid == xid and reply.kind in wanted:
            return reply
    raise TimeoutError("no answer from a DHCP server")


def obtain(interface: str) -> Lease:
    """One DISCOVER/OFFER/REQUEST/ACK exchange on ``interface`` (blocking)."""
    mac = netif.hardware_address(interface)
    xid = int.from_bytes(os.urandom(4), "big")
    with _socket(interface) as sock:
        offer = _exchange(sock, message(DISCOVER, xid, mac), xid, (OFFER,))
        extra = {
            OPT_REQUESTED_IP: socket.inet_aton(offer.yiaddr),
            OPT_SERVER: offer.options.get(OPT_SERVER, b"\0\0\0\0"),
        }
        ack = _exchange(sock, message(REQUEST, xid, mac, extra), xid, (ACK, NAK))
    if ack.kind == NAK:
        raise ConnectionRefusedError(f"the DHCP server refused {offer.yiaddr}")
    return lease_from(interface, ack)


def apply(lease: Lease, resolv_conf: Path = RESOLV_CONF) -> None:
    netif.set_address(lease.interface, lease.address)
    if lease.router:
        netif.add_default_route(lease.interface, lease.router)
    if lease.dns:
        resolv_conf.write_text("".join(f"nameserver {server}\n" for server in lease.dns))


async def keep_configured(interface: str) -> None:
    """Configure ``interface`` by DHCP and keep its lease; retries with back-off, forever."""
    await asyncio.to_thread(netif.link_up, interface)
    delay = 1.0
    while True:
        try:
            lease = await asyncio.to_thread(obtain, interface)
        except OSError as exc:
            logger.info("dhcp %s: %s; again in %.0fs", interface, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_DELAY_MAX)
            continue
        await asyncio.to_thread(apply, lease)
        logger.info(
            "dhcp %s: %s via %s for %ss", interface, lease.address, lease.router, lease.seconds
        )
        delay = 1.0
        await asyncio.sleep(max(lease.seconds / 2, 30))
