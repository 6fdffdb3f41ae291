"""Service logs: size cap, rotation, reading across files and restarts, following."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from kiln.machined.services import ServiceLog


@pytest.fixture
def open_log(tmp_path: Path) -> Iterator[Callable[..., ServiceLog]]:
    """Makes logs (in ``tmp_path`` unless told otherwise) and closes them after the test."""
    made: list[ServiceLog] = []

    def make(
        name: str = "svc", max_bytes: int = 4 * 1024 * 1024, directory: Path = tmp_path
    ) -> ServiceLog:
        made.append(ServiceLog(directory, name, max_bytes))
        return made[-1]

    yield make
    for log in made:
        log.close()


def lines(first: int, last: int) -> bytes:
    return b"".join(f"line {i:04d}\n".encode() for i in range(first, last))


def test_tail_reads_the_last_lines(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log()
    log.write(lines(0, 100))
    assert log.tail(3) == ["line 0097", "line 0098", "line 0099"]
    assert len(log.tail()) == 100
    assert log.tail(-1) == log.tail(None)
    assert log.tail(0) == []
    assert log.tail(1000)[0] == "line 0000"


def test_empty_log(open_log: Callable[..., ServiceLog], tmp_path: Path) -> None:
    log = open_log(directory=tmp_path / "missing")
    assert log.tail(10) == []
    assert log.size == 0


def test_unfinished_last_line_is_part_of_the_tail(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log()
    log.write(b"one\ntwo\nthr")
    assert log.tail(2) == ["two", "thr"]
    log.write(b"ee\r\n")
    assert log.tail(2) == ["two", "three"]


def test_invalid_utf8_is_replaced(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log()
    log.write(b"caf\xc3\xa9 \xff\n")
    assert log.tail() == ["caf\u00e9 \ufffd"]


def test_rotation_caps_each_file_and_keeps_the_newest(
    open_log: Callable[..., ServiceLog], tmp_path: Path
) -> None:
    log = open_log(max_bytes=1000)
    for i in range(0, 500, 7):  # writes of 7 lines (70 bytes) at a time
        log.write(lines(i, min(i + 7, 500)))
    assert log.path.stat().st_size <= 1000
    assert log.rotated_path.stat().st_size <= 1000
    assert not (tmp_path / "svc.log.2").exists()
    kept = log.tail()
    assert kept[-1] == "line 0499"
    assert 100 <= len(kept) <= 200
    numbers = [int(line.split()[1]) for line in kept]
    assert numbers == list(range(numbers[0], 500))  # contiguous: nothing lost in between


def test_tail_reads_into_the_rotated_file(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log(max_bytes=100)
    log.write(lines(0, 10))  # 100 bytes: fills the file
    log.write(lines(10, 12))  # rotates
    assert log.rotated_path.read_bytes() == lines(0, 10)
    assert log.tail(4) == ["line 0008", "line 0009", "line 0010", "line 0011"]


def test_a_write_larger_than_the_cap_keeps_its_end(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log(max_bytes=100)
    log.write(lines(0, 50))
    assert log.size == 100
    assert log.tail()[-1] == "line 0049"


def test_a_new_log_object_appends_and_reads_old_lines(open_log: Callable[..., ServiceLog]) -> None:
    first = open_log(max_bytes=100)
    first.write(lines(0, 12))
    first.close()
    second = open_log(max_bytes=100)
    assert second.tail(3) == ["line 0009", "line 0010", "line 0011"]
    second.write(lines(12, 20))
    assert second.tail(2) == ["line 0018", "line 0019"]
    assert second.path.stat().st_size <= 100


async def take(stream: AsyncIterator[str], count: int) -> list[str]:
    taken: list[str] = []
    async with asyncio.timeout(2):
        while len(taken) < count:
            taken.append(await anext(stream))
    return taken


async def test_follow_yields_the_tail_then_new_lines(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log()
    log.write(lines(0, 5) + b"part")
    stream = log.follow(2)
    assert await take(stream, 2) == ["line 0003", "line 0004"]
    reader = asyncio.create_task(take(stream, 3), name="reader")
    await asyncio.sleep(0)
    log.write(b"ial\nnext\n")
    log.write(b"last\n")
    assert await reader == ["partial", "next", "last"]
    await stream.aclose()


async def test_follow_survives_rotations(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log(max_bytes=100)
    stream = log.follow(0)
    got: list[str] = []
    for i in range(0, 40, 4):
        log.write(lines(i, i + 4))
        got += await take(stream, 4)
    assert got == [f"line {i:04d}" for i in range(40)]
    await stream.aclose()


async def test_a_follower_that_falls_behind_skips_what_was_dropped(
    open_log: Callable[..., ServiceLog],
) -> None:
    log = open_log(max_bytes=100)
    stream = log.follow(0)
    log.write(b"first\n")
    assert await take(stream, 1) == ["first"]
    for i in range(0, 40, 5):
        log.write(lines(i, i + 5))
    kept = log.tail()
    assert kept[0] != "line 0000"  # the beginning was dropped
    assert await take(stream, len(kept)) == kept
    log.write(b"tail\n")
    assert await take(stream, 1) == ["tail"]
    await stream.aclose()


async def test_follow_ends_when_the_log_is_closed(open_log: Callable[..., ServiceLog]) -> None:
    log = open_log()
    log.write(b"a\nb")
    stream = log.follow(10)
    assert await take(stream, 1) == ["a"]
    log.close()
    assert [line async for line in stream] == ["b"]


@pytest.mark.parametrize("count", [1, 3])
async def test_follow_counts_only_complete_lines(
    open_log: Callable[..., ServiceLog], count: int
) -> None:
    log = open_log()
    log.write(lines(0, 5) + b"unfinished")
    log.close()
    got = [line async for line in log.follow(count)]
    assert got == [f"line {i:04d}" for i in range(5 - count, 5)] + ["unfinished"]
