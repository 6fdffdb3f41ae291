"""Services wait for their dependencies (running and healthy) and their conditions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kiln.machined.services import (
    Condition,
    HealthCheck,
    HealthResult,
    ServiceSpec,
    ServiceState,
    Supervisor,
    files_exist,
)
from kiln.machined.services.testing import RecordingListener

pytestmark = pytest.mark.integration

S = ServiceState


def flag_health(flag: asyncio.Event) -> HealthCheck:
    """Healthy while ``flag`` is set: a health check the test switches by hand."""

    async def check() -> HealthResult:
        if flag.is_set():
            return HealthResult(True, "flag up")
        return HealthResult(False, "flag down")

    return HealthCheck(check, interval=0.02, timeout=1)


async def test_b_waits_for_a_running_and_healthy(
    supervisor: Supervisor, listener: RecordingListener, tmp_path: Path
) -> None:
    flag = asyncio.Event()
    supervisor.load(
        ServiceSpec("a", ["sleep", "60"], health=flag_health(flag)),
        ServiceSpec("b", ["sleep", "60"], depends_on=["a"]),
    )
    await supervisor.start("b")
    waiting = await supervisor.wait_for("b", S.WAITING, timeout=5)
    assert waiting.waiting_for == ("service a (stopped)",)
    assert waiting.message == "waiting for service a (stopped)"

    await supervisor.start("a")
    await supervisor.wait_for("a", S.RUNNING, healthy=False, timeout=5)
    async with asyncio.timeout(5):
        await listener.wait_until(
            lambda: supervisor.status("b").waiting_for == ("service a (unhealthy)",)
        )
    assert supervisor.status("b").state is S.WAITING
    assert supervisor.status("b").pid is None

    flag.set()
    await supervisor.wait_for("b", S.RUNNING, timeout=5)
    healthy_at = next(i for i, e in enumerate(listener.events) if e.service == "a" and e.healthy)
    b_started_at = next(
        i for i, e in enumerate(listener.events) if e.service == "b" and e.state is S.STARTING
    )
    assert healthy_at < b_started_at


async def test_a_dependency_without_health_check_only_needs_to_run(
    supervisor: Supervisor,
) -> None:
    supervisor.load(
        ServiceSpec("a", ["sleep", "60"]),
        ServiceSpec("b", ["sleep", "60"], depends_on=["a"]),
    )
    await supervisor.start("a")
    await supervisor.start("b")
    await supervisor.wait_for("b", S.RUNNING, timeout=5)


async def test_waiting_for_a_file_to_appear(supervisor: Supervisor, tmp_path: Path) -> None:
    cert = tmp_path / "etcd" / "server.crt"
    supervisor.load(ServiceSpec("etcd", ["sleep", "60"], conditions=[files_exist(cert)]))
    await supervisor.start("etcd")
    waiting = await supervisor.wait_for("etcd", S.WAITING, timeout=5)
    assert waiting.message == f"waiting for file {cert}"
    cert.parent.mkdir()
    cert.write_text("certificate")
    await supervisor.wait_for("etcd", S.RUNNING, timeout=5)


async def test_dependencies_and_conditions_are_listed_together(
    supervisor: Supervisor, listener: RecordingListener, tmp_path: Path
) -> None:
    ready = False

    async def network_ready() -> bool:
        return ready

    supervisor.load(
        ServiceSpec(
            "etcd",
            ["sleep", "60"],
            depends_on=["trustd"],
            conditions=[
                files_exist(tmp_path / "a", tmp_path / "b"),
                Condition("network", network_ready),
            ],
        )
    )
    await supervisor.start("etcd")
    waiting = await supervisor.wait_for("etcd", S.WAITING, timeout=5)
    assert waiting.waiting_for == (
        "service trustd (not loaded)",
        f"files {tmp_path / 'a'}, {tmp_path / 'b'}",
        "network",
    )
    supervisor.load(ServiceSpec("trustd", ["sleep", "60"]))
    await supervisor.start("trustd")
    (tmp_path / "a").touch()
    (tmp_path / "b").touch()
    async with asyncio.timeout(5):
        await listener.wait_until(lambda: supervisor.status("etcd").waiting_for == ("network",))
    ready = True
    await supervisor.wait_for("etcd", S.RUNNING, timeout=5)
