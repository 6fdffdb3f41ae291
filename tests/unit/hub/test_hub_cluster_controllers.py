"""The cluster controllers on an in-memory state: which free machines a cluster takes and
gives back, and the steps a machine is driven through (against a fake machine API)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from kiln.hub import clock
from kiln.hub.api.cluster_service import ClusterService
from kiln.hub.controllers.clusters.cluster_machine import (
    ClusterMachineController,
    is_free_candidate,
)
from kiln.hub.controllers.clusters.machine_steps import Desired, MachineSteps, Turn
from kiln.hub.controllers.clusters.machine_upgrade import HUB_DRAIN
from kiln.hub.errors import TemplateError
from kiln.hub.resources import ClusterMachineSpec, ClusterSpec, MachineStatusSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec, MachinePhase
from kiln.hub.templates.load import load_template
from kiln.hub.templates.model import KilnVersion
from kiln.machinery.api import machine_pb2
from kiln.machinery.api.hubcluster_pb2 import SyncClusterRequest
from kiln.machinery.client import Client, ClientError
from kiln.machinery.config.model import MachineType
from kiln.machinery.drain import DrainOptions
from kiln.machinery.secrets import SecretsBundle
from kiln.resources import InMemoryState, Kind, Pointer, Resource
from kiln.resources.testing import ControllerHarness

TEMPLATE = """\
kind: Cluster
name: c1
---
kind: ControlPlane
machineSelector: {{selector: "pool=a", count: {planes}}}
---
kind: Workers
machineSelector: {{selector: "pool=a", count: {workers}}}
"""


def machine(
    uuid: str, *, stage: str = "maintenance", connected: bool = True, pool: str = "a"
) -> Resource[MachineStatusSpec]:
    spec = MachineStatusSpec(
        connected=connected, stage=stage, addresses=[f"192.0.2.{uuid[-1]}"], version="0.1.0"
    )
    return Resource.new(uuid, spec, labels={"pool": pool})


def cluster(planes: int, workers: int) -> ClusterSpec:
    return ClusterSpec(template=load_template(TEMPLATE.format(planes=planes, workers=workers), "t"))


async def allocation(harness: ControllerHarness, count: int) -> dict[str, ClusterMachineSpec]:
    kind = Kind.of(ClusterMachineSpec)
    await harness.wait_kind(kind, lambda held: len(held) == count)
    return {r.id: r.spec for r in await harness.state.list(kind)}


async def test_free_machines_are_allocated_and_the_bootstrap_machine_stays_last() -> None:
    async with ControllerHarness(ClusterMachineController()) as harness:
        for made in (
            machine("m1"),
            machine("m2"),
            machine("m3"),
            machine("m4", connected=False),
            machine("m5", stage="running"),
            machine("m6", pool="b"),
        ):
            await harness.state.create(made)
        await harness.state.create(Resource.new("c1", cluster(1, 1)))
        held = await allocation(harness, 2)
        assert held["m1"].bootstrap and held["m1"].machine_type is MachineType.CONTROLPLANE
        assert held["m1"].endpoint == "https://192.0.2.1:6443"
        assert held["m2"].machine_type is MachineType.WORKER and not held["m2"].bootstrap
        assert held["m2"].endpoint == held["m1"].endpoint

        current = await harness.state.get(Pointer.of(ClusterSpec, "c1"))
        assert "clusters.ClusterMachineController" in current.metadata.finalizers
        current.spec = cluster(2, 1)
        await harness.state.update(current)
        held = await allocation(harness, 3)
        assert held["m3"].machine_type is MachineType.CONTROLPLANE and not held["m3"].bootstrap

        current = await harness.state.get(Pointer.of(ClusterSpec, "c1"))
        current.spec = cluster(1, 1)
        await harness.state.update(current)
        held = await allocation(harness, 2)
        assert set(held) == {"m1", "m2"}  # the bootstrap machine is never the one given back

        assert not await harness.state.teardown(current.pointer)
        await allocation(harness, 0)
        released = await harness.wait_for(current.pointer, lambda r: not r.metadata.finalizers)
        assert released.metadata.finalizers == ()


def test_a_machine_on_another_version_is_taken_when_the_template_can_upgrade_it() -> None:
    older = machine("m1")  # runs 0.1.0
    pinned = load_template(TEMPLATE.format(planes=1, workers=0), "t")
    assert is_free_candidate(older, pinned)
    wanting = pinned.cluster.model_copy(update={"kiln": KilnVersion(version="v0.2.0")})
    without_image = pinned.model_copy(update={"cluster": wanting})
    assert not is_free_candidate(older, without_image)  # nothing to upgrade it with
    upgradable = wanting.model_copy(
        update={"kiln": KilnVersion(version="v0.2.0", image="/images/0.2.0")}
    )
    assert is_free_candidate(older, pinned.model_copy(update={"cluster": upgradable}))
    current = Resource.new("m2", older.spec.model_copy(update={"version": "0.2.0"}))
    assert is_free_candidate(current, without_image)


class FakeMachine:
    """The calls the steps make, recorded; ``fail`` makes the next call of a name fail."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: dict[str, ClientError] = {}

    async def apply_configuration(
        self, data: bytes, *, drain: DrainOptions | None = None
    ) -> list[machine_pb2.ApplyConfiguration]:
        assert drain == HUB_DRAIN  # a config that reboots: the machine drains within a step
        self._call("apply")
        return [machine_pb2.ApplyConfiguration(mode_details="applied; rebooting")]

    async def bootstrap(self) -> None:
        self._call("bootstrap")

    async def get(self, type_name: str, resource_id: str, *, namespace: str) -> list[Any]:
        self._call(f"get {type_name}")
        return []  # runs no config the hub knows

    async def reset(self, *, graceful: bool, drain: DrainOptions | None = None) -> None:
        assert drain == HUB_DRAIN  # the machine may drain within one step's bound
        self._call(f"reset graceful={graceful}")

    def _call(self, name: str) -> None:
        self.calls.append(name)
        failure = self.fail.pop(name.split()[0], None)
        if failure is not None:
            raise failure

    @contextlib.asynccontextmanager
    async def dial(self, uuid: str) -> AsyncIterator[Client]:
        yield cast(Client, self)


def spec(bootstrap: bool = True) -> ClusterMachineSpec:
    return ClusterMachineSpec(
        cluster="c1",
        set_name="control-planes",
        machine_type=MachineType.CONTROLPLANE,
        address="192.0.2.1",
        endpoint="https://192.0.2.1:6443",
        bootstrap=bootstrap,
    )


async def test_a_machine_is_configured_once_then_bootstrapped_and_then_settled() -> None:
    fake = FakeMachine()
    steps = MachineSteps(fake.dial)
    secrets = SecretsBundle.generate()
    target = cluster(1, 0)
    status = ClusterMachineStatusSpec(cluster="c1")

    def converge(stage: str, connected: bool = True) -> Any:
        found = MachineStatusSpec(connected=connected, stage=stage)
        desired = Desired.of(spec(), "m1", target, secrets)
        return steps.converge(spec(), "m1", found, status, desired, Turn(True), nothing)

    outcome = await converge("maintenance", connected=False)
    assert fake.calls == [] and outcome.status.message == "the machine is not connected"
    outcome = await converge("maintenance")
    status = outcome.status
    assert fake.calls == ["apply"] and status.phase is MachinePhase.CONFIGURING
    assert status.config_hash and status.applied_at is not None
    outcome = await converge("maintenance")  # still rebooting into its config: not sent again
    assert fake.calls == ["apply"] and not outcome.settled
    outcome = await converge("booting")
    assert fake.calls == ["apply"] and outcome.status.message == "stage booting"
    fake.fail["bootstrap"] = ClientError(
        "etcd is being bootstrapped, try again", code="FAILED_PRECONDITION"
    )
    outcome = await converge("running")
    assert not outcome.status.bootstrapped and not outcome.settled
    fake.fail["bootstrap"] = ClientError("etcd is already bootstrapped", code="FAILED_PRECONDITION")
    status = (await converge("running")).status
    assert status.bootstrapped and status.phase is MachinePhase.RUNNING
    outcome = await converge("running")
    assert outcome.settled and fake.calls == ["apply", "bootstrap", "bootstrap"]


async def test_a_changed_config_waits_for_its_turn() -> None:
    fake = FakeMachine()
    steps = MachineSteps(fake.dial)
    secrets = SecretsBundle.generate()
    old = ClusterMachineStatusSpec(cluster="c1", config_hash="old", bootstrapped=True)
    running = MachineStatusSpec(connected=True, stage="running")
    target = cluster(2, 0)
    first = await steps.converge(
        spec(), "m1", running, old, Desired.of(spec(), "m1", target, secrets), Turn(True), nothing
    )
    waits = Turn(False, "control planes update one at a time: m1 first")
    desired = Desired.of(spec(False), "m2", target, secrets)
    second = await steps.converge(spec(False), "m2", running, old, desired, waits, nothing)
    assert fake.calls == ["get MachineConfig", "apply"]
    assert first.status.message.startswith("sent its new config") and first.status.updating
    assert second.status.message == f"its new config waits: {waits.why}"
    assert not second.status.updating and second.status.config_hash == "old"


async def nothing(status: ClusterMachineStatusSpec) -> None:
    """Where a step would record a status before it goes on (a Kiln upgrade)."""


async def test_a_released_machine_is_reset_then_let_go_in_maintenance() -> None:
    fake = FakeMachine()
    steps = MachineSteps(fake.dial)
    status = ClusterMachineStatusSpec(cluster="c1", config_hash="h")
    away = MachineStatusSpec(connected=False, stage="running")
    outcome = await steps.release("m1", away, status, graceful=True)
    assert not outcome.released and "when it connects again" in outcome.status.message
    running = MachineStatusSpec(connected=True, stage="running")
    outcome = await steps.release("m1", running, status, graceful=True)
    assert fake.calls == ["reset graceful=True"] and outcome.status.reset_at is not None
    again = await steps.release("m1", running, outcome.status, graceful=True)
    assert fake.calls == ["reset graceful=True"] and not again.released  # resetting already
    back = MachineStatusSpec(connected=True, stage="maintenance")
    assert (await steps.release("m1", back, outcome.status, graceful=True)).released
    assert (await steps.release("m1", None, status, graceful=False)).released  # gone for good


async def test_a_machine_just_sent_its_config_is_not_let_go_before_it_boots_with_it() -> None:
    fake = FakeMachine()
    steps = MachineSteps(fake.dial)
    sent = ClusterMachineStatusSpec(cluster="c1", config_hash="h", applied_at=clock.now())
    maintenance = MachineStatusSpec(connected=True, stage="maintenance")
    outcome = await steps.release("m1", maintenance, sent, graceful=False)
    assert not outcome.released and outcome.status.phase is MachinePhase.RESETTING
    running = MachineStatusSpec(connected=True, stage="running")
    outcome = await steps.release("m1", running, sent, graceful=False)
    assert fake.calls == ["reset graceful=False"]
    assert (await steps.release("m1", maintenance, outcome.status, graceful=False)).released


async def test_machines_named_by_uuid_are_taken_once_they_are_free() -> None:
    listed = """\
kind: Cluster
name: c2
---
kind: ControlPlane
machines: [m1, m2]
"""
    async with ControllerHarness(ClusterMachineController()) as harness:
        await harness.state.create(machine("m1"))
        await harness.state.create(machine("m2", connected=False))
        template = load_template(listed, "t")
        await harness.state.create(Resource.new("c2", ClusterSpec(template=template)))
        held = await allocation(harness, 1)
        assert list(held) == ["m1"] and held["m1"].bootstrap
        current = await harness.state.get(Pointer.of(MachineStatusSpec, "m2"))
        current.spec = machine("m2").spec
        await harness.state.update(current)
        held = await allocation(harness, 2)
        assert not held["m2"].bootstrap and held["m2"].endpoint == held["m1"].endpoint


async def test_a_sync_may_not_drop_the_bootstrap_machine_nor_take_another_clusters() -> None:
    state = InMemoryState()
    service = ClusterService(state)
    for uuid, name, bootstrap in (("m1", "c2", True), ("m9", "other", True)):
        spec = ClusterMachineSpec(
            cluster=name,
            set_name="control-planes",
            machine_type=MachineType.CONTROLPLANE,
            address="192.0.2.1",
            endpoint="https://192.0.2.1:6443",
            bootstrap=bootstrap,
        )
        await state.create(Resource.new(uuid, spec), owner="clusters.ClusterMachineController")
    first = "kind: Cluster\nname: c2\n---\nkind: ControlPlane\nmachines: [m1]\n"
    await service.SyncCluster(SyncClusterRequest(id="c2", template=first), None)
    second = "kind: Cluster\nname: c2\n---\nkind: ControlPlane\nmachines: [m2, m9]\n"
    with pytest.raises(TemplateError) as refused:
        await service.SyncCluster(SyncClusterRequest(id="c2", template=second), None)
    assert refused.value.lines() == [
        "cluster c2: control-planes: machine m1 bootstrapped the cluster's etcd and holds its "
        "endpoint: it stays while the cluster exists",
        "cluster c2: control-planes: machine m9 is in cluster other",
    ]
    found = await state.get(Pointer.of(ClusterSpec, "c2"))
    assert found.spec.template.control_plane.machines == ["m1"]  # nothing changed


async def test_a_first_config_sent_but_not_recorded_is_not_held_by_the_rollout() -> None:
    fake = FakeMachine()
    steps = MachineSteps(fake.dial)
    secrets = SecretsBundle.generate()
    unrecorded = ClusterMachineStatusSpec(cluster="c1")  # the hub was killed after sending it
    running = MachineStatusSpec(connected=True, stage="running")
    desired = Desired.of(spec(), "m1", cluster(1, 0), secrets)
    found = await steps.converge(spec(), "m1", running, unrecorded, desired, Turn(False), nothing)
    assert fake.calls == ["get MachineConfig", "apply"]
    assert found.status.config_hash == desired.hash
