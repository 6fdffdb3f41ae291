"""Ready-made conditions: files that exist, ports that are free."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiln.machined.services import files_exist, port_free


async def test_files_exist(tmp_path: Path) -> None:
    one, two = tmp_path / "ca.crt", tmp_path / "server.crt"
    condition = files_exist(one, two)
    assert condition.description == f"files {one}, {two}"
    assert str(condition) == condition.description
    assert not await condition.check()
    one.touch()
    assert not await condition.check()
    two.touch()
    assert await condition.check()
    assert files_exist(one).description == f"file {one}"


async def test_port_free() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    condition = port_free(port)
    assert condition.description == f"port 127.0.0.1:{port} free"
    async with server:
        assert not await condition.check()
    await server.wait_closed()
    assert await condition.check()
