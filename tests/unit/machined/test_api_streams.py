"""Long API streams end when the API closes, and release what they iterate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from kiln.machined.api.streams import until_closed


async def test_a_stream_ends_when_closing_is_set_and_closes_its_source() -> None:
    closed = []

    async def endless() -> AsyncGenerator[int, None]:
        try:
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    closing = asyncio.Event()
    seen = []
    async with asyncio.timeout(5):
        async for item in until_closed(closing, endless()):
            seen.append(item)
            if item == 3:
                closing.set()
    assert seen == [0, 1, 2, 3]
    assert closed == [True]


async def test_a_finite_stream_ends_by_itself() -> None:
    async def three() -> AsyncGenerator[int, None]:
        for n in range(3):
            yield n

    assert [n async for n in until_closed(asyncio.Event(), three())] == [0, 1, 2]
