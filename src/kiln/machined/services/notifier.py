"""A broadcast "something changed" signal for any number of waiting tasks.

Waiters take :attr:`Notifier.changed` *before* looking at the state they care about, then await
it; a :meth:`Notifier.notify` in between is not lost because it sets that very event.
"""

from __future__ import annotations

import asyncio


class Notifier:
    """Wakes everyone waiting on the current :attr:`changed` event, then starts a new one."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    @property
    def changed(self) -> asyncio.Event:
        """The event the next :meth:`notify` sets."""
        return self._changed

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
