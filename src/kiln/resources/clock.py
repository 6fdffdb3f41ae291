"""Time as the controller runtime sees it: a clock it can be handed, and retry backoff.

The runtime never calls ``asyncio.sleep`` or ``time.monotonic`` directly; it asks its
:class:`Clock`, so tests can pass :class:`kiln.resources.testing.ManualClock` and run retries
without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    """Monotonic time in seconds, and sleeping on it.

    ``sleep`` starts the sleep when it is called, not when it is awaited, so that a manual
    clock counts the delay from the moment the runtime decided to sleep.
    """

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(seconds)


@dataclass
class Backoff:
    """Capped exponential backoff: ``initial``, then times ``factor``, never above ``cap``.

    ``next()`` gives the delay before the next retry; ``reset()`` after a success.
    """

    initial: float = 0.1
    cap: float = 30.0
    factor: float = 2.0
    _attempts: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial or self.factor < 1:
            raise ValueError(
                f"invalid backoff: initial={self.initial}, cap={self.cap}, factor={self.factor}"
            )

    @property
    def attempts(self) -> int:
        """Failures since the last reset."""
        return self._attempts

    def next(self) -> float:
        """The delay after one more failure."""
        delay = self.initial * self.factor ** min(self._attempts, 64)
        self._attempts += 1
        return min(delay, self.cap)

    def reset(self) -> None:
        self._attempts = 0

    def fresh(self) -> Backoff:
        """A new backoff with the same settings and no failures (one per controller)."""
        return Backoff(self.initial, self.cap, self.factor)
