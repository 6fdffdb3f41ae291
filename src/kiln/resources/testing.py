"""Seams for tests: a manual clock and a harness that runs controllers on an in-memory state.

::

    async with ControllerHarness(HostnameController()) as harness:
        await harness.state.create(Resource.new("hostname", HostnameConfigSpec(name="n1")))
        out = await harness.wait_for(Pointer.of(HostnameSpec, "hostname"),
                                     lambda r: r.spec.name == "n1")
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from kiln.resources.clock import Backoff
from kiln.resources.controller import Controller
from kiln.resources.memory import InMemoryState
from kiln.resources.resource import Kind, Pointer, Resource
from kiln.resources.runtime import ControllerRuntime, ControllerStatus
from kiln.resources.state import State
from kiln.resources.watch import DEFAULT_WATCH_CAPACITY, EventType


class ManualClock:
    """A clock that moves only when told to (or, with ``autojump``, whenever someone sleeps).

    ``sleeps`` records every requested delay in order, which is how tests check backoff.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = False) -> None:
        self._now = start
        self.autojump = autojump
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Sleep until :meth:`advance` reaches now + ``seconds`` (counted from this call)."""
        self.sleeps.append(seconds)
        if self.autojump:
            self._now += max(seconds, 0.0)
            return asyncio.sleep(0)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        return future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def pending(self) -> list[float]:
        """Deadlines of the sleepers still waiting, earliest first."""
        return sorted(deadline for deadline, _, future in self._sleepers if not future.done())


class ControllerHarness:
    """Runs controllers in a :class:`ControllerRuntime` for the length of an ``async with``.

    Every ``wait_*`` fails with TimeoutError after ``timeout`` seconds.
    """

    def __init__(
        self,
        *controllers: Controller,
        state: State | None = None,
        clock: ManualClock | None = None,
        backoff: Backoff | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.state: State = state or InMemoryState()
        self.clock = clock
        self.runtime = ControllerRuntime(self.state, controllers, clock=clock, backoff=backoff)
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.runtime.run(), name="controller harness")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the runtime; re-raise anything it died of."""
        if self._task is None:
            return
        task, self._task = self._task, None
        await self.runtime.stop()
        await task

    async def wait_for(
        self,
        ptr: Pointer,
        predicate: Callable[[Resource[Any]], bool] = lambda _: True,
    ) -> Resource[Any]:
        """Wait until the resource exists and ``predicate`` holds for it; return it."""
        found: list[Resource[Any]] = []

        def holds(resources: dict[str, Resource[Any]]) -> bool:
            resource = resources.get(ptr.id)
            if resource is not None and predicate(resource):
                found.append(resource)
                return True
            return False

        await self.wait_kind(ptr.kind, holds)
        return found[0]

    async def wait_kind(
        self,
        kind: Kind,
        predicate: Callable[[dict[str, Resource[Any]]], bool],
    ) -> dict[str, Resource[Any]]:
        """Wait until ``predicate`` holds for the resources of ``kind`` (by id); return them."""
        resources: dict[str, Resource[Any]] = {}
        async with asyncio.timeout(self.timeout):
            async with self.state.watch_kind(kind, capacity=DEFAULT_WATCH_CAPACITY) as watch:
                bootstrapped = False
                async for event in watch:
                    if event.type is EventType.BOOTSTRAPPED:
                        bootstrapped = True
                    elif event.type is EventType.ERRORED:
                        raise AssertionError(f"watch on {kind} ended: {event.error}")
                    elif event.resource is not None:
                        if event.type is EventType.DESTROYED:
                            resources.pop(event.resource.id, None)
                        else:
                            resources[event.resource.id] = event.resource
                    if bootstrapped and predicate(resources):
                        return resources
                    self._check_running()
        raise AssertionError(f"watch on {kind} ended")

    async def wait_status(
        self,
        name: str,
        predicate: Callable[[ControllerStatus], bool],
    ) -> ControllerStatus:
        """Wait until a controller's status satisfies ``predicate``; return that status."""
        async with asyncio.timeout(self.timeout):
            while True:
                changed = self.runtime.changes()
                status = self.runtime.status(name)
                if predicate(status):
                    return status
                self._check_running()
                await changed.wait()

    def _check_running(self) -> None:
        if self._task is not None and self._task.done():
            self._task.result()  # raises what the runtime died of
            raise AssertionError("the controller runtime stopped")
