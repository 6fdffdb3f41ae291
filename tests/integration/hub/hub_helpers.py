"""Helpers of the hub tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from kiln.hub.testing import HubProcess
from kiln.resources.pgserver import PostgresServer


def code_of(err: BaseException) -> grpc.StatusCode:
    """The status of a failed hub call."""
    assert isinstance(err, grpc.aio.AioRpcError), err
    return err.code()


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Wait until ``check`` says yes; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


BACKENDS = ["sqlite", "postgresql"]


@contextlib.asynccontextmanager
async def hub_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, host: str
) -> AsyncIterator[HubProcess]:
    """A hub on ``host`` whose database is the fixture's parameter (one of :data:`BACKENDS`)."""
    data: Path = tmp_path_factory.mktemp("hub") / "data"
    database = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        database = await server.new_database("hub")
    async with HubProcess(data, host=host, database=database) as started:
        yield started
