"""The DHCP client's messages: what it sends, what it understands of a server's answer."""

from __future__ import annotations

import ipaddress
import socket
import struct

from kiln.machined.platform.metal import dhcp

MAC = bytes.fromhex("525400123456")


def _reply(kind: int, xid: int, options: dict[int, bytes]) -> bytes:
    head = bytearray(240)
    head[0] = 2
    head[4:8] = struct.pack("!I", xid)
    head[16:20] = socket.inet_aton("10.0.2.15")
    head[236:240] = dhcp.MAGIC
    body = bytes([dhcp.OPT_TYPE, 1, kind]) + b"".join(
        bytes([code, len(value)]) + value for code, value in options.items()
    )
    return bytes(head) + b"\0" + body + bytes([dhcp.OPT_END])


def test_a_discover_is_a_broadcast_bootrequest_with_the_mac() -> None:
    data = dhcp.message(dhcp.DISCOVER, 0x1234, MAC)
    assert data[0] == 1 and struct.unpack_from("!I", data, 4)[0] == 0x1234
    assert struct.unpack_from("!H", data, 10)[0] == dhcp.BROADCAST_FLAG
    assert data[28:34] == MAC and data[236:240] == dhcp.MAGIC
    assert bytes([dhcp.OPT_TYPE, 1, dhcp.DISCOVER]) in data[240:] and data[-1] == dhcp.OPT_END


def test_a_request_names_the_offered_address_and_server() -> None:
    extra = {dhcp.OPT_REQUESTED_IP: socket.inet_aton("10.0.2.15")}
    data = dhcp.message(dhcp.REQUEST, 7, MAC, extra)
    assert bytes([dhcp.OPT_REQUESTED_IP, 4, 10, 0, 2, 15]) in data


def test_an_ack_becomes_a_lease() -> None:
    data = _reply(
        dhcp.ACK,
        99,
        {
            dhcp.OPT_MASK: socket.inet_aton("255.255.255.0"),
            dhcp.OPT_ROUTER: socket.inet_aton("10.0.2.2"),
            dhcp.OPT_DNS: socket.inet_aton("10.0.2.3") + socket.inet_aton("10.0.2.4"),
            dhcp.OPT_SERVER: socket.inet_aton("10.0.2.2"),
            dhcp.OPT_LEASE: struct.pack("!I", 86400),
            dhcp.OPT_HOSTNAME: b"node-a",
        },
    )
    reply = dhcp.parse(data)
    assert reply is not None and reply.kind == dhcp.ACK and reply.xid == 99
    lease = dhcp.lease_from("eth0", reply)
    assert lease.address == ipaddress.IPv4Interface("10.0.2.15/24")
    assert (lease.router, lease.dns, lease.server) == (
        "10.0.2.2",
        ("10.0.2.3", "10.0.2.4"),
        "10.0.2.2",
    )
    assert (lease.seconds, lease.hostname) == (86400, "node-a")


def test_what_is_not_a_bootreply_is_ignored() -> None:
    assert dhcp.parse(b"short") is None
    assert dhcp.parse(dhcp.message(dhcp.DISCOVER, 1, MAC)) is None  # a request, not a reply
    truncated = _reply(dhcp.OFFER, 1, {})[:-1] + bytes([dhcp.OPT_ROUTER])
    assert dhcp.parse(truncated) is not None
