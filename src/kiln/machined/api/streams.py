"""Long response streams (log follows, events, watches) end when the API stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def until_closed(closing: asyncio.Event, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """The items of ``items`` until it ends or ``closing`` is set, whichever comes first."""
    closed = asyncio.create_task(closing.wait(), name="api stream closing")
    following: asyncio.Task[T] | None = None
    try:
        while True:
            following = asyncio.create_task(_next(items), name="api stream next item")
            done, _ = await asyncio.wait({following, closed}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                return
            try:
                item = following.result()
            except StopAsyncIteration:
                return
            following = None
            yield item
    finally:
        closed.cancel()
        if following is not None and not following.done():
            following.cancel()
            await asyncio.wait({following})
        if isinstance(items, AsyncGenerator):
            await items.aclose()


async def _next(items: AsyncIterator[T]) -> T:
    return await anext(items)
