"""The machine link's wire format: protobuf messages, each after its length (4 bytes, big
endian), over one mutual-TLS connection to the hub's machine port.

Not gRPC: the hub holds one of these connections per machine, nearly all of them idle, and an
idle gRPC stream kept about 100 KiB per machine in gRPC's core (TLS and HTTP/2 buffers); an
asyncio TLS connection with :data:`TLS_READ_BUFFER` keeps a fraction of that
(``benchmarks/README.md``, "Kiln Hub at 10,000 machines").
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
from typing import Protocol, TypeVar

from google.protobuf.message import DecodeError

from kiln.machinery.errors import MachineryError

HEADER = 4
MAX_MESSAGE = 4 * 1024 * 1024  # a tunnel frame carries at most 64 KiB; facts a few KiB
#: What asyncio's TLS protocol reads the network into, per connection (256 KiB by default).
#: A TLS record holds at most 16 KiB, so a larger buffer only saves calls.
TLS_READ_BUFFER = 16 * 1024


class FrameError(MachineryError):
    """The other side sent something that is not a message of the link."""


class Message(Protocol):
    def SerializeToString(self) -> bytes: ...

    def ParseFromString(self, data: bytes) -> int: ...


M = TypeVar("M", bound=Message)


def encode(message: Message) -> bytes:
    data = message.SerializeToString()
    return len(data).to_bytes(HEADER, "big") + data


async def read_message(reader: asyncio.StreamReader, kind: type[M]) -> M | None:
    """The next message; None when the connection ended cleanly between messages."""
    try:
        header = await reader.readexactly(HEADER)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("the connection ended inside a message's length") from None
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_MESSAGE:
        raise FrameError(f"a message of {size} bytes, over the limit of {MAX_MESSAGE}")
    try:
        data = await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(
            f"the connection ended {len(exc.partial)} bytes into a message of {size}"
        ) from None
    message = kind()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise FrameError(f"not a {kind.__name__}: {exc}") from None
    return message


def small_tls_buffers() -> None:
    """Make asyncio's TLS connections read the network through :data:`TLS_READ_BUFFER`
    (process-wide: asyncio has no per-connection setting)."""
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
