"""A snapshot stream is written verbatim, and only a whole one ever stands at its path."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiln.machined.etcd.snapshot_file import write_snapshot


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def stream(*chunks: bytes, fail: bool = False) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if fail:
        raise ConnectionError("stream broke")


async def test_the_bytes_are_written_as_they_came_privately(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.db"
    assert await write_snapshot(stream(b"bolt", b"", b"data", b"sha256"), path) == 14
    assert path.read_bytes() == b"boltdatasha256"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert names(tmp_path) == ["snapshot.db"]


async def test_a_broken_stream_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.db"
    path.write_bytes(b"older snapshot")
    with pytest.raises(ConnectionError):
        await write_snapshot(stream(b"half", fail=True), path)
    assert path.read_bytes() == b"older snapshot"
    assert names(tmp_path) == ["snapshot.db"]
