"""The machine link's wire format: what one side writes, the other reads back, and damaged
input is refused with a reason instead of being taken for a message."""

from __future__ import annotations

import asyncio

import pytest

from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.hubjoin.frames import MAX_MESSAGE, FrameError, encode, read_message

pytestmark = pytest.mark.asyncio


def reader_of(data: bytes, *, end: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if end:
        reader.feed_eof()
    return reader


async def test_messages_are_read_back_in_order_and_a_clean_end_reads_as_none() -> None:
    hello = pb.MachineMessage(hello=pb.Hello(secret="s", facts=pb.Facts(hostname="n1")))
    frame = pb.MachineMessage(frame=pb.Frame(id=7, data=b"\x00" * 70_000, close=True))
    reader = reader_of(encode(hello) + encode(frame) + encode(pb.MachineMessage()))
    assert await read_message(reader, pb.MachineMessage) == hello
    assert await read_message(reader, pb.MachineMessage) == frame
    assert await read_message(reader, pb.MachineMessage) == pb.MachineMessage()
    assert await read_message(reader, pb.MachineMessage) is None


async def test_a_message_arriving_in_pieces_is_read_whole() -> None:
    data = encode(pb.HubMessage(refused="revoked"))
    reader = reader_of(data[:3], end=False)
    reading = asyncio.create_task(read_message(reader, pb.HubMessage))
    await asyncio.sleep(0)
    reader.feed_data(data[3:])
    assert await reading == pb.HubMessage(refused="revoked")


async def test_a_length_over_the_limit_is_refused_before_anything_is_read() -> None:
    reader = reader_of((MAX_MESSAGE + 1).to_bytes(4, "big"), end=False)
    with pytest.raises(FrameError, match=f"{MAX_MESSAGE + 1} bytes, over the limit"):
        await read_message(reader, pb.MachineMessage)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x00\x00", "inside a message's length"),
        (b"\x00\x00\x00\x10abc", "3 bytes into a message of 16"),
    ],
)
async def test_a_connection_cut_mid_message_is_an_error(data: bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why):
        await read_message(reader_of(data), pb.MachineMessage)


async def test_bytes_that_are_not_a_message_are_an_error() -> None:
    garbage = b"\xff\xff\xff"
    reader = reader_of(len(garbage).to_bytes(4, "big") + garbage)
    with pytest.raises(FrameError, match="not a MachineMessage"):
        await read_message(reader, pb.MachineMessage)
