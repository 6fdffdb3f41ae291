"""The service supervisor of the node daemon.

A :class:`Supervisor` keeps the services of one node in a state directory::

    <state_dir>/logs/<name>.log, <name>.log.1   output of each service (see log.py)
    <state_dir>/pids/<name>.json                 what runs now, for cleanup after a crash

Use it as an async context manager: entering stops processes an earlier, crashed daemon left
running (see pidfile.py); leaving stops every service, dependents first. Services are loaded
from specs, then started, stopped and restarted by name; a service stopped on request stays
stopped until started again. Every change goes to the :class:`ServiceListener`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kiln.machined.services.clock import Clock, SystemClock
from kiln.machined.services.errors import (
    ServiceBusyError,
    ServiceNotFoundError,
    ServiceSpecError,
    ServiceTimeoutError,
)
from kiln.machined.services.graph import find_cycle, stop_waves
from kiln.machined.services.log import ServiceLog
from kiln.machined.services.notifier import Notifier
from kiln.machined.services.pidfile import PidFiles, PidRecord
from kiln.machined.services.runner import ServiceRunner
from kiln.machined.services.spec import ServiceSpec
from kiln.machined.services.state import (
    ServiceEvent,
    ServiceListener,
    ServiceState,
    ServiceStatus,
)

logger = logging.getLogger(__name__)


class Supervisor:
    """Loads, starts, stops and reports the services of one node.

    ``clock`` is the seam for tests (see clock.py). ``poll_interval`` is how often a WAITING
    service re-checks its conditions when nothing else changes.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        listener: ServiceListener | None = None,
        *,
        clock: Clock | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._listener = listener
        self._clock: Clock = clock or SystemClock()
        self._poll_interval = poll_interval
        self._changes = Notifier()
        self._pids = PidFiles(self.state_dir / "pids")
        self._runners: dict[str, ServiceRunner] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._quiet: set[str] = set()  # services being replaced: their reports are held back
        self._replacing = asyncio.Lock()  # one replace at a time: each keeps its names quiet

    async def __aenter__(self) -> Supervisor:
        await self.cleanup_stale()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def cleanup_stale(self, grace: float = 10.0) -> list[PidRecord]:
        """Stop processes recorded by an earlier daemon that still run; what was stopped."""
        return await self._pids.cleanup_stale(grace)

    def load(self, *specs: ServiceSpec) -> None:
        """Load services, or replace stopped ones. Dependencies may be loaded later.

        Raises :class:`ServiceSpecError` for duplicate names or a dependency cycle,
        :class:`ServiceBusyError` when replacing a service that is not stopped.
        """
        self._check(specs)
        for spec in specs:
            if (runner := self._runners.get(spec.name)) is not None and runner.running:
                raise ServiceBusyError(f"service {spec.name} must be stopped before it is replaced")
        self._install(specs)

    async def replace(self, *specs: ServiceSpec) -> None:
        """Stop each of ``specs``' services that is loaded, load ``specs`` in their place and
        start them. Listeners see no stopped state in between: a placeholder swapped for
        another (or for the real service) never looks like a service stopped on request.

        Raises :class:`ServiceSpecError` as :meth:`load` does, before anything is stopped.
        Replacements run one after the other, never interleaved.
        """
        async with self._replacing:
            self._check(specs)
            names = [spec.name for spec in specs]
            self._quiet.update(names)
            try:
                for name in names:
                    if name in self._runners:
                        await self.stop(name)
                self._install(specs)
            finally:
                self._quiet.difference_update(names)
            for name in names:
                await self.start(name)

    def _check(self, specs: Sequence[ServiceSpec]) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ServiceSpecError(f"service names given twice: {sorted(names)}")
        graph = {name: runner.spec.depends_on for name, runner in self._runners.items()}
        graph.update({spec.name: spec.depends_on for spec in specs})
        if (cycle := find_cycle(graph)) is not None:
            raise ServiceSpecError(f"dependency cycle: {' -> '.join(cycle)}")

    def _install(self, specs: Sequence[ServiceSpec]) -> None:
        for spec in specs:
            old = self._runners.get(spec.name)
            log = old.log if old else ServiceLog(self.state_dir / "logs", spec.name)
            log.max_bytes = spec.log_max_bytes
            runner = ServiceRunner(
                spec,
                log=log,
                pids=self._pids,
                clock=self._clock,
                report=self._report,
                blocker=self._blocker,
                changes=self._changes,
                poll_interval=self._poll_interval,
            )
            self._runners[spec.name] = runner
            self._locks.setdefault(spec.name, asyncio.Lock())
            status = runner.status
            self._report(
                ServiceEvent(spec.name, status.state, status.message, status.since), status
            )

    async def unload(self, name: str) -> None:
        """Stop a service and forget it; its log files stay on disk."""
        runner = self._get(name)
        async with self._locks[name]:
            await runner.stop()
            runner.log.close()
            del self._runners[name]
        self._changes.notify()
        if self._listener is not None:
            try:
                self._listener.service_removed(name)
            except Exception:
                logger.exception("service listener failed on the removal of %s", name)

    async def start(self, name: str) -> ServiceStatus:
        """Start a service (no-op if it runs). It goes through WAITING to RUNNING on its own;
        see :meth:`wait_for`."""
        runner = self._get(name)
        async with self._locks[name]:
            runner.start()
        return runner.status

    async def stop(self, name: str) -> ServiceStatus:
        """Stop a service and wait until it is STOPPED; it stays stopped until started."""
        runner = self._get(name)
        async with self._locks[name]:
            await runner.stop()
        return runner.status

    async def restart(self, name: str) -> ServiceStatus:
        """Stop a service (if it runs), then start it."""
        runner = self._get(name)
        async with self._locks[name]:
            await runner.stop()
            runner.start()
        return runner.status

    def names(self) -> list[str]:
        return sorted(self._runners)

    def status(self, name: str) -> ServiceStatus:
        return self._get(name).status

    def statuses(self) -> list[ServiceStatus]:
        """Every loaded service, sorted by name."""
        return [self._runners[name].status for name in self.names()]

    def spec(self, name: str) -> ServiceSpec:
        return self._get(name).spec

    def logs(self, name: str) -> ServiceLog:
        """The output log of a service: ``tail(n)``, ``follow(n)``."""
        return self._get(name).log

    async def wait_for(
        self,
        name: str,
        *states: ServiceState,
        healthy: bool | None = None,
        timeout: float,  # noqa: ASYNC109 - the error says where the service got stuck
    ) -> ServiceStatus:
        """Wait until the service is in one of ``states`` (any, if none given) and, unless
        ``healthy`` is None, has that health. Raises :class:`ServiceTimeoutError` after
        ``timeout`` seconds, naming where it is instead."""
        status = self.status(name)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changes.changed
                    status = self.status(name)
                    in_state = not states or status.state in states
                    if in_state and (healthy is None or status.healthy is healthy):
                        return status
                    await changed.wait()
        except TimeoutError:
            wanted = " or ".join(states) or "any state"
            if healthy is not None:
                wanted += ", healthy" if healthy else ", unhealthy"
            raise ServiceTimeoutError(
                f"service {name} is {status.state} ({status.message}) after {timeout:g}s, "
                f"not {wanted}"
            ) from None

    async def stop_all(self) -> None:
        """Stop every service, dependents before what they depend on."""
        graph = {name: runner.spec.depends_on for name, runner in self._runners.items()}
        for wave in stop_waves(graph):
            async with asyncio.TaskGroup() as group:
                for name in wave:
                    group.create_task(self.stop(name), name=f"stop service {name}")

    async def close(self) -> None:
        """Stop every service and close the logs."""
        await self.stop_all()
        for runner in self._runners.values():
            runner.log.close()

    def _get(self, name: str) -> ServiceRunner:
        try:
            return self._runners[name]
        except KeyError:
            raise ServiceNotFoundError(name) from None

    def _blocker(self, name: str) -> str | None:
        runner = self._runners.get(name)
        if runner is None:
            return f"service {name} (not loaded)"
        if runner.ready:
            return None
        status = runner.status
        if status.state is not ServiceState.RUNNING:
            return f"service {name} ({status.state})"
        return f"service {name} ({'unhealthy' if status.healthy is False else 'not yet healthy'})"

    def _report(self, event: ServiceEvent, status: ServiceStatus) -> None:
        self._changes.notify()
        if self._listener is None or event.service in self._quiet:
            return
        try:
            self._listener.service_changed(event, status)
        except Exception:
            logger.exception("service listener failed on %s", event)
