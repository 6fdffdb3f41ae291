"""The controller runtime: one supervised task per controller, reconciling on change.

Each controller's task watches the controller's inputs and its own outputs. Events only mark
the controller dirty; reconcile runs once at start (after every watch has its snapshot) and
then whenever something changed since the last run, so bursts of changes coalesce.

A reconcile that raises is logged with the controller's name and retried after a capped
exponential backoff (reset by the next success); events that arrive meanwhile wait for the
retry. ``RequeueError(delay, reason)`` and ``ctx.requeue_after(seconds)`` ask for a run after
a delay. Nothing a controller raises (short of cancellation) reaches its neighbours: each
controller fails and retries alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial

from kiln.errors import KilnError
from kiln.resources.clock import Backoff, Clock, SystemClock
from kiln.resources.context import ReconcileContext
from kiln.resources.controller import Controller, OutputKind
from kiln.resources.errors import RegistrationError, RequeueError
from kiln.resources.resource import Kind, Pointer
from kiln.resources.state import State
from kiln.resources.watch import EventType, Watch

_log = logging.getLogger("kiln.resources.runtime")


class Changes:
    """What changed since a controller's last reconcile: the pointers seen in its watches, or
    everything (its first run, a reopened watch that may have missed some, a failed run)."""

    def __init__(self) -> None:
        self.pointers: set[Pointer] = set()
        self.everything = True

    def add(self, pointer: Pointer | None) -> None:
        """Note a change to ``pointer``; None: anything may have changed."""
        if pointer is None:
            self.everything = True
            self.pointers.clear()
        elif not self.everything:
            self.pointers.add(pointer)

    def take(self) -> frozenset[Pointer] | None:
        """What changed (None: anything), starting afresh."""
        found = None if self.everything else frozenset(self.pointers)
        self.pointers = set()
        self.everything = False
        return found


@dataclass
class ControllerStatus:
    """What a controller is doing, for observability and tests (times on the runtime's clock)."""

    name: str
    reconciles: int = 0  # successful reconciles
    failures: int = 0  # failed reconciles, in total
    consecutive_failures: int = 0  # since the last success; drives the backoff
    last_error: str | None = None  # of the last failed (or requeued) run; None after success
    retry_delay: float | None = None  # the backoff before the pending retry
    next_run: float | None = None  # when a retry or requeue is due; None when waiting for events


class ControllerRuntime:
    """Runs controllers against a state until stopped."""

    def __init__(
        self,
        state: State,
        controllers: Iterable[Controller] = (),
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.state = state
        self.clock: Clock = clock or SystemClock()
        self.backoff = backoff or Backoff()
        self.logger = logger or _log
        self._controllers: dict[str, Controller] = {}
        self._statuses: dict[str, ControllerStatus] = {}
        self._output_claims: dict[str, tuple[OutputKind, list[str]]] = {}
        self._changed = asyncio.Event()
        self._stopping: asyncio.Event | None = None
        self._done: asyncio.Event | None = None
        for controller in controllers:
            self.register(controller)

    def register(self, controller: Controller) -> None:
        """Add a controller; RegistrationError on a duplicate name or exclusive output."""
        name = getattr(controller, "name", "")
        if not name:
            raise RegistrationError(f"controller {type(controller).__qualname__} has no name")
        if name in self._controllers:
            raise RegistrationError(f"controller {name} is already registered")
        if self._stopping is not None:
            raise RegistrationError(f"controller {name}: the runtime is already running")
        claims = dict(self._output_claims)
        for output in controller.outputs():
            kind, owners = claims.get(output.type, (output.kind, []))
            if owners and (kind is OutputKind.EXCLUSIVE or output.kind is OutputKind.EXCLUSIVE):
                raise RegistrationError(
                    f"controller {name}: output {output.type} is already "
                    f"{kind.value} to {', '.join(owners)}"
                )
            claims[output.type] = (output.kind, [*owners, name])
        self._output_claims = claims
        self._controllers[name] = controller
        self._statuses[name] = ControllerStatus(name)

    @property
    def controllers(self) -> list[str]:
        return list(self._controllers)

    def status(self, name: str) -> ControllerStatus:
        """A snapshot of one controller's status (KeyError for unknown names)."""
        return replace(self._statuses[name])

    def changes(self) -> asyncio.Event:
        """An event that is set at the next change of any controller's status."""
        return self._changed

    async def ran_once(self) -> None:
        """Until every controller has reconciled once (or failed once): what they make from
        the inputs present at start is there, or its error is in the controller's status."""
        while not all(status.reconciles or status.failures for status in self._statuses.values()):
            await self._changed.wait()

    async def run(self) -> None:
        """Run every controller until :meth:`stop` (returns) or cancellation (raises)."""
        if self._stopping is not None:
            raise RuntimeError("the controller runtime is already running")
        self._stopping, self._done = asyncio.Event(), asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._supervise(controller), name=f"controller {name}")
                    for name, controller in self._controllers.items()
                ]
                await self._stopping.wait()
                for task in tasks:
                    task.cancel()
        finally:
            self._done.set()
            self._stopping = None  # may run again

    async def stop(self) -> None:
        """Stop a running :meth:`run` and wait until every controller task has ended."""
        if self._stopping is None or self._done is None:
            return
        self._stopping.set()
        await self._done.wait()

    # One controller -----------------------------------------------------------------------------

    async def _supervise(self, controller: Controller) -> None:
        """Run the controller forever; failures outside reconcile (watches) restart it."""
        status = self._statuses[controller.name]
        backoff = self.backoff.fresh()
        while True:
            try:
                await self._run(controller, status, backoff)
            except Exception as err:  # noqa: BLE001 - isolate the controller; retried below
                delay = backoff.next()
                self._failed(status, _first(err), delay, "setup or watch")
                await self.clock.sleep(delay)

    async def _run(
        self, controller: Controller, status: ControllerStatus, backoff: Backoff
    ) -> None:
        watches: dict[Kind | Pointer, Callable[[], Watch]] = {}
        for output in controller.outputs():
            watches[output.resource_kind] = partial(self.state.watch_kind, output.resource_kind)
        for item in controller.inputs():
            ptr = item.pointer
            if ptr is None:
                watches[item.resource_kind] = partial(self.state.watch_kind, item.resource_kind)
            elif ptr.kind not in watches:
                watches[ptr] = partial(self.state.watch, ptr)
        dirty = asyncio.Event()
        changes = Changes()
        async with asyncio.TaskGroup() as group:
            ready = []
            for target, make in watches.items():
                bootstrapped = asyncio.Event()
                ready.append(bootstrapped)
                group.create_task(
                    self._watch(make, dirty, changes, bootstrapped),
                    name=f"controller {controller.name} watch {target}",
                )
            for bootstrapped in ready:
                await bootstrapped.wait()
            dirty.set()
            await self._loop(controller, status, backoff, dirty, changes)

    async def _watch(
        self,
        make: Callable[[], Watch],
        dirty: asyncio.Event,
        changes: Changes,
        bootstrapped: asyncio.Event,
    ) -> None:
        """Mark the controller dirty on every change, noting what changed; reopen the watch
        if it overflows."""
        while True:
            async with make() as watch:
                async for event in watch:
                    if event.type is EventType.BOOTSTRAPPED:
                        if bootstrapped.is_set():  # reopened: changes may have been missed
                            changes.add(None)
                            dirty.set()
                        bootstrapped.set()
                    elif event.type is EventType.ERRORED:
                        if event.error is not None and not bootstrapped.is_set():
                            raise event.error
                        self.logger.warning("reopening watch %s: %s", watch.target, event.error)
                    elif bootstrapped.is_set():
                        changes.add(event.pointer)
                        dirty.set()

    async def _loop(
        self,
        controller: Controller,
        status: ControllerStatus,
        backoff: Backoff,
        dirty: asyncio.Event,
        changes: Changes,
    ) -> None:
        readable = [item.resource_kind for item in controller.inputs()]
        writable = [output.resource_kind for output in controller.outputs()]
        first = True
        due: float | None = None  # when the requeue the last run asked for falls due
        while True:
            await dirty.wait()
            if controller.coalesce and not first:
                await self._sleep(status, controller.coalesce)
            first = False
            dirty.clear()
            ctx = ReconcileContext(self.state, controller.name, readable, writable)
            ctx.changed = changes.take()
            try:
                await controller.reconcile(ctx)
            except RequeueError as err:
                self.logger.info("controller %s requeued: %s", controller.name, err.reason)
                status.last_error, status.retry_delay = str(err), None
                changes.add(None)  # what this run was to handle is still to handle
                await self._sleep(status, err.delay)
                dirty.set()
            except Exception as err:  # noqa: BLE001 - a failed reconcile is retried, not fatal
                changes.add(None)
                delay = backoff.next()
                self._failed(status, err, delay, "reconcile")
                await self._sleep(status, delay)
                dirty.set()
            else:
                backoff.reset()
                status.reconciles += 1
                status.consecutive_failures = 0
                status.last_error = status.retry_delay = status.next_run = None
                self._notify()
                now = self.clock.monotonic()
                if not ctx.skipped:
                    due = None if ctx.requeue is None else now + ctx.requeue
                if due is not None and not await self._sleep(status, max(0.0, due - now), dirty):
                    due = None
                    changes.add(None)  # a requeued run is a whole run, whatever changed
                    dirty.set()

    async def _sleep(
        self, status: ControllerStatus, delay: float, wake: asyncio.Event | None = None
    ) -> bool:
        """Sleep ``delay`` on the clock, or until ``wake`` is set; True if woken early."""
        status.next_run = self.clock.monotonic() + delay
        sleeping = self.clock.sleep(delay)  # counts from now, before anyone sees next_run
        self._notify()
        try:
            if wake is None:
                await sleeping
                return False
            sleeper = asyncio.ensure_future(sleeping)
            waker = asyncio.create_task(wake.wait(), name=f"controller {status.name} wake")
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
            return wake.is_set()
        finally:
            status.next_run = None

    def _failed(self, status: ControllerStatus, err: Exception, delay: float, what: str) -> None:
        status.failures += 1
        status.consecutive_failures += 1
        status.last_error = str(err) or type(err).__name__
        status.retry_delay = delay
        self.logger.warning(
            "controller %s: %s failed (%d in a row), retrying in %gs: %s",
            status.name,
            what,
            status.consecutive_failures,
            delay,
            status.last_error,
            exc_info=not isinstance(err, KilnError),
        )
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _first(err: Exception) -> Exception:
    """The first real error inside (nested) exception groups."""
    while isinstance(err, ExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err
