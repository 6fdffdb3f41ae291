"""Retrying etcd requests that failed for a temporary reason, within a deadline.

etcd refuses membership changes for a while in normal operation: a second learner while one
is joining, any change within its health interval (5 s) after a member (re)connected
("unhealthy cluster"), a promotion before the learner caught up. Such errors are
``temporary`` (see :mod:`kiln.machined.etcd.errors`) and worth another try a little later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kiln.machined.etcd.errors import EtcdError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIN_STEP = 1.0
"""The least time a step gets, even when the deadline has (nearly) passed."""


class Deadline:
    """A point in (event loop) time that several steps share."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._at = self._loop.time() + seconds

    def remaining(self) -> float:
        return max(self._at - self._loop.time(), 0.0)

    def budget(self) -> float:
        """The time left for the next step, at least :data:`MIN_STEP`."""
        return max(self.remaining(), MIN_STEP)


async def retry_temporary(
    action: Callable[[], Awaitable[T]],
    what: str,
    deadline: Deadline,
    *,
    initial_delay: float = 0.1,
    max_delay: float = 2.0,
) -> T:
    """``await action()`` until it succeeds; after a temporary :class:`EtcdError` wait (growing
    delays up to ``max_delay``) and try again while ``deadline`` allows, then raise it."""
    delay = initial_delay
    while True:
        try:
            return await action()
        except EtcdError as exc:
            if not exc.temporary or deadline.remaining() <= 0:
                raise
            logger.debug("%s: %s; trying again in %gs", what, exc, delay)
            await asyncio.sleep(min(delay, deadline.remaining()))
            delay = min(delay * 2, max_delay)
