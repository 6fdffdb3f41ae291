"""Test seams for code that uses the supervisor: a listener that records, a clock that skips.

Public on purpose (like the fake clocks of the resource runtime): tests of the node daemon use
them as much as the supervisor's own tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kiln.machined.services.clock import SystemClock
from kiln.machined.services.notifier import Notifier
from kiln.machined.services.state import ServiceEvent, ServiceState, ServiceStatus


class RecordingListener:
    """Keeps every event and the latest status of each service; lets a test await a
    condition on them."""

    def __init__(self) -> None:
        self.events: list[ServiceEvent] = []
        self.latest: dict[str, ServiceStatus] = {}
        self.removed: list[str] = []
        self._changes = Notifier()

    def service_changed(self, event: ServiceEvent, status: ServiceStatus) -> None:
        self.events.append(event)
        self.latest[event.service] = status
        self._changes.notify()

    def service_removed(self, name: str) -> None:
        self.removed.append(name)
        self.latest.pop(name, None)
        self._changes.notify()

    def of(self, service: str) -> list[ServiceEvent]:
        """The events of one service, in order."""
        return [event for event in self.events if event.service == service]

    def states(self, service: str) -> list[ServiceState]:
        """The states one service went through, repeats (health, message changes) collapsed."""
        states: list[ServiceState] = []
        for event in self.of(service):
            if not states or states[-1] is not event.state:
                states.append(event.state)
        return states

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, re-checked after every event (bound it with
        ``asyncio.timeout``)."""
        while True:
            changed = self._changes.changed
            if predicate():
                return
            await changed.wait()


class RecordingClock(SystemClock):
    """Real time, except that sleeps are recorded in :attr:`sleeps` and skipped. For restart
    backoff; a health check would run in a tight loop with it."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
