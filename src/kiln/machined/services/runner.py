"""Runs one service: wait, prepare, start, watch health, restart or stop.

A :class:`ServiceRunner` owns one task per start (``service <name>``) that loops: wait until
every dependency is ready and every condition holds (re-checked whenever any service changes
and every ``poll_interval`` seconds), run the prepare hook, spawn the program with its output
piped into the service log, watch its health, and on exit apply the restart policy with capped
exponential backoff. Stopping cancels that task; the process gets SIGTERM, ``stop_grace``
seconds, then SIGKILL, and the service ends STOPPED.

The runner knows nothing of other services: the supervisor tells it why a dependency is not
ready (``blocker``) and when anything changed (``changes``), and receives every change of its
status through ``report``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kiln import process
from kiln.errors import KilnError
from kiln.machined.services.clock import Clock
from kiln.machined.services.health import HealthCheck, HealthResult
from kiln.machined.services.log import ServiceLog
from kiln.machined.services.notifier import Notifier
from kiln.machined.services.pidfile import PidFiles
from kiln.machined.services.spec import ServiceSpec
from kiln.machined.services.state import (
    ServiceEvent,
    ServiceState,
    ServiceStatus,
    can_move,
    describe_waiting,
)

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024

Report = Callable[[ServiceEvent, ServiceStatus], None]
Blocker = Callable[[str], str | None]


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it, without mistaking its cancellation for ours."""
    task.cancel()
    await asyncio.wait([task])


class ServiceRunner:
    """Runs one :class:`ServiceSpec`. Driven by the supervisor: :meth:`start`, :meth:`stop`."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        log: ServiceLog,
        pids: PidFiles,
        clock: Clock,
        report: Report,
        blocker: Blocker,
        changes: Notifier,
        poll_interval: float,
    ) -> None:
        self.spec = spec
        self.log = log
        self._pids = pids
        self._clock = clock
        self._report = report
        self._blocker = blocker
        self._changes = changes
        self._poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._pid: int | None = None
        self._healthy: bool | None = None
        self._healthy_since: float | None = None
        self._exit_code: int | None = None
        self._restarts = 0
        self._status = ServiceStatus(spec.name, ServiceState.STOPPED, clock.now(), "loaded")

    @property
    def status(self) -> ServiceStatus:
        return self._status

    @property
    def running(self) -> bool:
        """Whether the runner's task is alive (waiting, running, backing off or stopping)."""
        return self._task is not None and not self._task.done()

    @property
    def ready(self) -> bool:
        """Whether dependents may start: RUNNING, and healthy if it has a health check."""
        state_ok = self._status.state is ServiceState.RUNNING
        return state_ok and (self.spec.health is None or self._healthy is True)

    def start(self) -> None:
        """Start the service's task, unless it already runs."""
        if self.running:
            return
        self._task = asyncio.create_task(self._main(), name=f"service {self.spec.name}")
        self._task.add_done_callback(self._task_done)

    async def stop(self) -> None:
        """Stop the service and wait until it is STOPPED."""
        task = self._task
        if task is not None and not task.done():
            await _cancel(task)
        elif self._status.state is not ServiceState.STOPPED:
            self._move(ServiceState.STOPPED, "stopped")

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("service %s: runner ended with an error", self.spec.name, exc_info=exc)

    def _move(
        self,
        state: ServiceState,
        message: str,
        *,
        waiting_for: tuple[str, ...] = (),
        force: bool = False,
    ) -> None:
        old = self._status
        if not force and not can_move(old.state, state):
            raise RuntimeError(f"service {self.spec.name}: no move from {old.state} to {state}")
        now = self._clock.now()
        new = ServiceStatus(
            name=self.spec.name,
            state=state,
            since=old.since if state is old.state else now,
            message=message,
            healthy=self._healthy if state is ServiceState.RUNNING else None,
            pid=self._pid if state.active else None,
            restarts=self._restarts,
            exit_code=self._exit_code,
            waiting_for=waiting_for,
        )
        if new == old:
            return
        self._status = new
        self._report(ServiceEvent(self.spec.name, state, message, now, new.healthy), new)

    async def _main(self) -> None:
        attempt = 0
        backoff = self.spec.backoff
        try:
            while True:
                await self._wait_until_ready()
                returncode, reason = await self._run_once()
                final = ServiceState.FINISHED if returncode == 0 else ServiceState.FAILED
                ran = self._healthy_since
                if ran is not None and self._clock.monotonic() - ran >= backoff.reset_after:
                    attempt = 0
                self._healthy_since = None
                if not self.spec.restart.restarts_after(returncode):
                    self._move(final, reason)
                    return
                delay = backoff.delay(attempt)
                attempt += 1
                self._move(final, f"{reason}; restarting in {delay:g}s")
                await self._clock.sleep(delay)
                self._restarts += 1
        except asyncio.CancelledError:
            self._pid = None
            self._move(ServiceState.STOPPED, self._stopped_message(), force=True)
            raise
        except Exception as exc:  # a failing condition, hook or a bug here: fail this service only
            logger.exception("service %s: supervision failed", self.spec.name)
            self._pid = None
            self._move(ServiceState.FAILED, f"supervision failed: {exc!r}", force=True)

    def _stopped_message(self) -> str:
        if self._status.state is ServiceState.STOPPING and self._exit_code is not None:
            return f"stopped ({process.describe_exit(self._exit_code)})"
        return "stopped"

    async def _wait_until_ready(self) -> None:
        while True:
            changed = self._changes.changed
            blockers = [b for name in self.spec.depends_on if (b := self._blocker(name))]
            for condition in self.spec.conditions:
                if not await condition.check():
                    blockers.append(condition.description)
            if not blockers:
                return
            reasons = tuple(blockers)
            self._move(ServiceState.WAITING, describe_waiting(reasons), waiting_for=reasons)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval if self.spec.conditions else None):
                    await changed.wait()

    async def _run_once(self) -> tuple[int | None, str]:
        """One attempt: prepare, spawn, wait for the exit. The exit code (None: did not start)
        and what happened."""
        spec = self.spec
        if spec.prepare is not None:
            self._move(ServiceState.PREPARING, "preparing")
            try:
                await spec.prepare()
            except KilnError as exc:
                return None, f"preparing failed: {exc}"
        self._move(ServiceState.STARTING, "starting")
        try:
            child = await process.spawn(spec.argv, env=spec.env, cwd=spec.cwd)
        except process.ProcessError as exc:
            return None, str(exc)
        pump = asyncio.create_task(self._pump(child), name=f"service {spec.name} output")
        health: asyncio.Task[None] | None = None
        try:
            self._pids.record(spec.name, child.pid, spec.argv)
            self._pid, self._healthy = child.pid, None
            self._healthy_since = self._clock.monotonic() if spec.health is None else None
            self._move(ServiceState.RUNNING, f"running (pid {child.pid})")
            if spec.health is not None:
                health = asyncio.create_task(
                    self._watch_health(spec.health), name=f"service {spec.name} health"
                )
            try:
                self._exit_code = await child.wait()
            except asyncio.CancelledError:
                self._move(ServiceState.STOPPING, f"stopping (pid {child.pid})")
                self._exit_code = await process.terminate(child, spec.stop_grace)
                raise
        finally:
            if health is not None:
                health.cancel()
            try:
                if child.returncode is None:  # only after an error of our own
                    self._exit_code = await process.terminate(child, spec.stop_grace)
                await process.drain(child, [pump])
            finally:
                if health is not None:
                    await asyncio.wait([health])
                if child.returncode is not None:
                    self._pids.remove(spec.name)
                self._pid = None
        return self._exit_code, process.describe_exit(self._exit_code)

    async def _pump(self, child: process.Child) -> None:
        """Copy the child's output into the log until the pipe closes."""
        output = child.output
        assert output is not None  # spawned with capture_output
        warned = False
        while chunk := await output.read(READ_CHUNK):
            try:
                self.log.write(chunk)
            except OSError as exc:  # keep draining the pipe so the program does not block
                if not warned:
                    logger.warning("service %s: cannot write its log: %s", self.spec.name, exc)
                    warned = True

    async def _watch_health(self, health: HealthCheck) -> None:
        await self._clock.sleep(health.initial_delay)
        while True:
            try:
                async with asyncio.timeout(health.timeout):
                    result = await health.check()
            except TimeoutError:
                result = HealthResult(False, f"no answer within {health.timeout:g}s")
            except Exception as exc:  # a broken check must not end the watching
                logger.debug("service %s: health check raised", self.spec.name, exc_info=True)
                result = HealthResult(False, f"check failed: {exc!r}")
            self._set_health(result)
            await self._clock.sleep(health.interval)

    def _set_health(self, result: HealthResult) -> None:
        if result.ok and self._healthy_since is None:
            self._healthy_since = self._clock.monotonic()
        elif not result.ok:
            self._healthy_since = None
        self._healthy = result.ok
        word = "healthy" if result.ok else "unhealthy"
        self._move(ServiceState.RUNNING, f"{word}: {result.message}" if result.message else word)
