"""Supervisor bookkeeping that needs no process: loading, lookups, waiting, listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiln.machined.services import (
    ServiceBusyError,
    ServiceEvent,
    ServiceNotFoundError,
    ServiceSpec,
    ServiceSpecError,
    ServiceState,
    ServiceStatus,
    ServiceTimeoutError,
    Supervisor,
)
from kiln.machined.services.testing import RecordingListener


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[Supervisor]:
    async with Supervisor(tmp_path, RecordingListener()) as supervisor:
        yield supervisor


def test_loading_reports_stopped_services(tmp_path: Path) -> None:
    listener = RecordingListener()
    supervisor = Supervisor(tmp_path, listener)
    supervisor.load(ServiceSpec("b", ["true"]), ServiceSpec("a", ["true"]))
    assert [s.name for s in supervisor.statuses()] == ["a", "b"]
    assert supervisor.status("a").state is ServiceState.STOPPED
    assert [(e.service, e.state, e.message) for e in listener.events] == [
        ("b", ServiceState.STOPPED, "loaded"),
        ("a", ServiceState.STOPPED, "loaded"),
    ]


async def test_unknown_services_are_refused(supervisor: Supervisor) -> None:
    with pytest.raises(ServiceNotFoundError, match="service 'nope' is not loaded"):
        supervisor.status("nope")
    with pytest.raises(ServiceNotFoundError):
        supervisor.logs("nope")
    with pytest.raises(ServiceNotFoundError):
        await supervisor.start("nope")
    with pytest.raises(ServiceNotFoundError):
        await supervisor.stop("nope")
    with pytest.raises(ServiceNotFoundError):
        await supervisor.restart("nope")
    with pytest.raises(ServiceNotFoundError):
        await supervisor.wait_for("nope", timeout=1)


def test_dependency_cycles_are_refused_at_load(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    supervisor.load(ServiceSpec("a", ["true"], depends_on=["c"]))
    supervisor.load(ServiceSpec("b", ["true"], depends_on=["a"]))
    with pytest.raises(ServiceSpecError, match="dependency cycle: a -> c -> b -> a"):
        supervisor.load(ServiceSpec("c", ["true"], depends_on=["b"]))
    assert supervisor.names() == ["a", "b"]


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ServiceSpecError, match="twice"):
        Supervisor(tmp_path).load(ServiceSpec("a", ["true"]), ServiceSpec("a", ["false"]))


async def test_a_service_waits_for_one_not_loaded(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("b", ["true"], depends_on=["ghost"]))
    await supervisor.start("b")
    status = await supervisor.wait_for("b", ServiceState.WAITING, timeout=2)
    assert status.waiting_for == ("service ghost (not loaded)",)
    assert status.message == "waiting for service ghost (not loaded)"
    with pytest.raises(ServiceBusyError, match="must be stopped"):
        supervisor.load(ServiceSpec("b", ["false"]))
    stopped = await supervisor.stop("b")
    assert stopped.state is ServiceState.STOPPED
    assert stopped.waiting_for == ()
    supervisor.load(ServiceSpec("b", ["false"]))  # replacing a stopped service is fine
    assert supervisor.spec("b").argv == ("false",)


async def test_wait_for_says_where_the_service_is(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("a", ["true"]))
    with pytest.raises(ServiceTimeoutError) as caught:
        await supervisor.wait_for("a", ServiceState.RUNNING, healthy=True, timeout=0.05)
    assert str(caught.value) == ("service a is stopped (loaded) after 0.05s, not running, healthy")


async def test_unload_forgets_the_service_and_tells_the_listener(tmp_path: Path) -> None:
    listener = RecordingListener()
    async with Supervisor(tmp_path, listener) as supervisor:
        supervisor.load(ServiceSpec("a", ["true"]))
        await supervisor.unload("a")
        assert supervisor.names() == []
        assert listener.removed == ["a"]


async def test_a_failing_listener_does_not_break_the_supervisor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def service_changed(self, event: ServiceEvent, status: ServiceStatus) -> None:
            raise RuntimeError("listener bug")

        def service_removed(self, name: str) -> None:
            raise RuntimeError("listener bug")

    async with Supervisor(tmp_path, Broken()) as supervisor:
        supervisor.load(ServiceSpec("b", ["true"], depends_on=["ghost"]))
        await supervisor.start("b")
        await supervisor.wait_for("b", ServiceState.WAITING, timeout=2)
        await supervisor.unload("b")
    assert "service listener failed" in caplog.text


async def test_stop_all_with_nothing_running(supervisor: Supervisor) -> None:
    supervisor.load(ServiceSpec("a", ["true"]), ServiceSpec("b", ["true"], depends_on=["a"]))
    await asyncio.wait_for(supervisor.stop_all(), timeout=2)
    assert {s.state for s in supervisor.statuses()} == {ServiceState.STOPPED}


async def test_a_replaced_placeholder_goes_from_waiting_to_waiting(tmp_path: Path) -> None:
    """Readiness is read from the reported states: a placeholder swapped for another must
    never show as stopped in between, or the node would look ready for that moment."""
    listener = RecordingListener()
    async with Supervisor(tmp_path, listener) as supervisor:
        await supervisor.replace(ServiceSpec.waiting("etcd", "its certificates"))
        await supervisor.wait_for("etcd", ServiceState.WAITING, timeout=2)
        await supervisor.replace(ServiceSpec.waiting("etcd", "a bootstrap"))
        replaced = await supervisor.wait_for("etcd", ServiceState.WAITING, timeout=2)
        assert replaced.waiting_for == ("a bootstrap",)
        assert [(e.state, e.message) for e in listener.of("etcd")] == [
            (ServiceState.WAITING, "waiting for its certificates"),
            (ServiceState.WAITING, "waiting for a bootstrap"),
        ]


async def test_a_replacement_with_a_cycle_leaves_the_service_running(
    supervisor: Supervisor,
) -> None:
    await supervisor.replace(ServiceSpec.waiting("a", "something"))
    await supervisor.wait_for("a", ServiceState.WAITING, timeout=2)
    supervisor.load(ServiceSpec("b", ["true"], depends_on=["a"]))
    with pytest.raises(ServiceSpecError, match="dependency cycle"):
        await supervisor.replace(ServiceSpec("a", ["true"], depends_on=["b"]))
    assert supervisor.status("a").state is ServiceState.WAITING


async def test_replacements_of_one_service_at_once_never_show_it_stopped(tmp_path: Path) -> None:
    listener = RecordingListener()
    async with Supervisor(tmp_path, listener) as supervisor:
        await supervisor.replace(ServiceSpec.waiting("etcd", "its certificates"))
        await supervisor.wait_for("etcd", ServiceState.WAITING, timeout=2)
        await asyncio.gather(
            *(supervisor.replace(ServiceSpec.waiting("etcd", f"step {n}")) for n in range(5))
        )
        final = await supervisor.wait_for("etcd", ServiceState.WAITING, timeout=2)
        assert final.waiting_for == ("step 4",)
        assert {e.state for e in listener.of("etcd")} == {ServiceState.WAITING}
