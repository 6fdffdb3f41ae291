"""Running several coroutines until the first of them ends (two directions of a byte stream,
a leader's work and the loss of its lock)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def until_first_ends(*work: Coroutine[Any, Any, Any]) -> set[asyncio.Task[Any]]:
    """Run ``work`` until one of them ends, then cancel the others and wait for them; the
    tasks that ended by themselves (their errors are the caller's to look at)."""
    tasks = [asyncio.create_task(each) for each in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    return done
