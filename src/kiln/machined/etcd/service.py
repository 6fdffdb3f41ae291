"""etcd as a supervised service: its :class:`ServiceSpec`, and :class:`SupervisedEtcd`, which
starts and stops it through a :class:`Supervisor` for the procedures in
:mod:`kiln.machined.etcd.lifecycle`.

The procedures only need an :class:`EtcdRunner` (start a member config and wait until etcd
answers, stop it); the node daemon passes a :class:`SupervisedEtcd`, a test may pass its own.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

from kiln.machined.etcd.binaries import EtcdBinaries
from kiln.machined.etcd.config import EtcdMemberConfig
from kiln.machined.etcd.datadir import ensure_data_dir
from kiln.machined.etcd.errors import EtcdServiceError
from kiln.machined.etcd.probe import member_status_probe
from kiln.machined.services import (
    Backoff,
    HealthCheck,
    RestartPolicy,
    ServiceSpec,
    ServiceState,
    Supervisor,
    files_exist,
)

SERVICE_NAME = "etcd"
LOG_TAIL_LINES = 20
LOG_SCAN_LINES = 400
TELLING = re.compile(r'"level":"(?:warn|error|fatal|panic)"|^(?:Error|error|invalid|panic)\b')
FAIL_FAST_EXITS = 3
"""A start gives up early once etcd has exited this often (a bad flag, a removed member):
the supervisor keeps restarting it, but waiting longer would not help."""


def etcd_service_spec(
    member: EtcdMemberConfig,
    binaries: EtcdBinaries,
    *,
    name: str = SERVICE_NAME,
    health_interval: float = 5.0,
    stop_grace: float = 15.0,
) -> ServiceSpec:
    """etcd for ``member``: restarted whatever its exit, waiting for its certificate files,
    healthy while it knows a leader (see :mod:`kiln.machined.etcd.probe`). Its data
    directory is made (0700) before every start."""

    async def prepare() -> None:
        try:
            await asyncio.to_thread(ensure_data_dir, member.data_dir)
        except OSError as exc:
            raise EtcdServiceError(f"cannot make the etcd data directory: {exc}") from exc

    return ServiceSpec(
        name,
        member.argv(binaries.etcd),
        conditions=[files_exist(*member.certs.all())],
        restart=RestartPolicy.ALWAYS,
        backoff=Backoff(initial=0.5, cap=10.0),
        health=HealthCheck(member_status_probe(member), interval=health_interval),
        prepare=prepare,
        stop_grace=stop_grace,
    )


def telling_lines(lines: list[str]) -> list[str]:
    """What explains a failed start: etcd's last warnings and errors if it logged any
    (a bad flag is followed by a long usage text), else the end of its log."""
    telling = list(dict.fromkeys(line for line in lines if TELLING.search(line)))
    return (telling or lines)[-LOG_TAIL_LINES:]


class EtcdRunner(Protocol):
    """Runs this node's etcd."""

    async def start(
        self,
        member: EtcdMemberConfig,
        *,
        timeout: float,  # noqa: ASYNC109 - the error says where it got stuck
        healthy: bool = True,
    ) -> None:
        """(Re)start etcd with ``member``'s settings; return once it runs and, with
        ``healthy``, answers its health check. :class:`EtcdServiceError` after ``timeout``."""
        ...

    async def stop(self) -> None:
        """Stop etcd (no-op when it is not running)."""
        ...


class SupervisedEtcd:
    """An :class:`EtcdRunner` that runs etcd as service ``name`` of ``supervisor``.

    Readiness is polled every ``poll_interval`` seconds with the same probe as the service's
    health check, so a start does not wait for the next scheduled check. A start restarts an
    etcd that runs: the new spec may differ (initial cluster, state)."""

    def __init__(
        self,
        supervisor: Supervisor,
        binaries: EtcdBinaries,
        *,
        name: str = SERVICE_NAME,
        health_interval: float = 5.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.supervisor = supervisor
        self.binaries = binaries
        self.name = name
        self.health_interval = health_interval
        self.poll_interval = poll_interval

    @property
    def pid(self) -> int | None:
        """The pid of the running etcd, if any."""
        if self.name not in self.supervisor.names():
            return None
        return self.supervisor.status(self.name).pid

    async def start(
        self,
        member: EtcdMemberConfig,
        *,
        timeout: float = 60.0,  # noqa: ASYNC109 - the error says where it got stuck
        healthy: bool = True,
    ) -> None:
        spec = etcd_service_spec(
            member, self.binaries, name=self.name, health_interval=self.health_interval
        )
        await self.supervisor.replace(spec)  # no stopped state seen between the two
        wanted = "healthy" if healthy else "running"
        try:
            async with asyncio.timeout(timeout):
                await self._wait_ready(member, healthy)
        except TimeoutError:
            raise self._not_ready(f"is not {wanted} after {timeout:g}s", member) from None

    async def _wait_ready(self, member: EtcdMemberConfig, healthy: bool) -> None:
        probe = member_status_probe(member)
        while True:
            status = self.supervisor.status(self.name)
            if status.restarts >= FAIL_FAST_EXITS:
                raise self._not_ready(f"exited {status.restarts} times since started", member)
            running = status.state is ServiceState.RUNNING
            if running and (not healthy or (await probe()).ok):
                return
            await asyncio.sleep(self.poll_interval)

    def _not_ready(self, what: str, member: EtcdMemberConfig) -> EtcdServiceError:
        status = self.supervisor.status(self.name)
        return EtcdServiceError(
            f"etcd ({member.name}) {what}: {status.state} ({status.message})",
            telling_lines(self.supervisor.logs(self.name).tail(LOG_SCAN_LINES)),
        )

    async def stop(self) -> None:
        if self.name in self.supervisor.names():
            await self.supervisor.stop(self.name)
