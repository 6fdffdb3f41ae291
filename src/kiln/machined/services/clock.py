"""Time as the supervisor sees it: a seam so tests can record or skip the waits.

The supervisor sleeps through a :class:`Clock` for everything it decides to wait for (restart
backoff, health-check intervals, re-checking conditions); timeouts of single operations use real
time. :class:`SystemClock` is the real one.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for durations, and a sleep."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
