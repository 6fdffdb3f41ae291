"""Helpers of the hub tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc


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
