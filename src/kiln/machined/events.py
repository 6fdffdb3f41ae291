"""Machine events: phase changes, service transitions, configs applied.

The :class:`EventBus` lives as long as the daemon process (across in-place reboots) and keeps
the last :data:`CAPACITY` events, so a subscriber can start with a tail of what happened
before it came. Publishing never waits: a subscriber that falls behind by more than its queue
loses its oldest events.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

CAPACITY = 1000
SUBSCRIBER_QUEUE = 1000


class EventType(StrEnum):
    PHASE = "phase"  # the sequencer entered or finished a phase
    STAGE = "stage"  # the machine's stage changed
    SERVICE = "service"  # a service changed state or health
    CONFIG = "config"  # a config was applied, staged, tried, confirmed or reverted
    SLOT = "slot"  # an OS slot was written, marked good, rolled back to
    DRAIN = "drain"  # the node cordoned, drained or uncordoned its Kubernetes Node


@dataclass(frozen=True)
class MachineEvent:
    """One event: ``id`` grows by one per event over the life of the process."""

    id: int
    type: EventType
    message: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class EventBus:
    """Publish events to every subscriber; keep the recent ones for those that come later."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._recent: deque[MachineEvent] = deque(maxlen=capacity)
        self._subscribers: set[asyncio.Queue[MachineEvent]] = set()
        self._ids = itertools.count(1)

    def publish(self, event_type: EventType, message: str) -> MachineEvent:
        event = MachineEvent(next(self._ids), event_type, message)
        self._recent.append(event)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
        return event

    def recent(self, count: int | None = None) -> list[MachineEvent]:
        """The last ``count`` events (all kept when None or negative)."""
        events = list(self._recent)
        if count is None or count < 0:
            return events
        return events[len(events) - count :] if count else []

    async def subscribe(self, tail: int = 0) -> AsyncGenerator[MachineEvent, None]:
        """The last ``tail`` events (-1: all kept), then every new one until cancelled."""
        queue: asyncio.Queue[MachineEvent] = asyncio.Queue(SUBSCRIBER_QUEUE)
        backlog = self.recent(tail)
        self._subscribers.add(queue)
        try:
            for event in backlog:
                yield event
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
