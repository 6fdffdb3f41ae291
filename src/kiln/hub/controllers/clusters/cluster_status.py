"""ClusterStatusController: Cluster + its ClusterMachines and their statuses + the machines'
MachineStatus → ClusterStatus: the phase, every machine's stage and step, the etcd members,
and the health checks of :mod:`kiln.machinery.health` run through the hub's tunnel (as
``kilnctl health`` runs them over the network), at most every :data:`HEALTH_INTERVAL`
seconds per cluster."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kiln.errors import KilnError
from kiln.hub.controllers.clusters.concerns import concerns, statuses_of
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterMachineStatusSpec,
    ClusterSpec,
    ClusterStatusSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.cluster_machine_status import MachinePhase
from kiln.hub.resources.cluster_status import HealthCheck, MachineSummary
from kiln.machinery.config.model import MachineType
from kiln.machinery.health import HealthTargets, check_cluster
from kiln.machinery.health.checks import Dialer
from kiln.resources import Controller, Input, Output, Phase, ReconcileContext, Resource

HEALTH_INTERVAL = 3.0


class ClusterStatusController(Controller):
    name = "clusters.ClusterStatusController"

    def __init__(self, dial: Dialer, interval: float = HEALTH_INTERVAL) -> None:
        self._dial = dial
        self._interval = interval
        self._checked: dict[str, tuple[float, tuple[str, ...], list[HealthCheck], list[str]]] = {}

    def inputs(self) -> Sequence[Input]:
        return [
            Input.of(ClusterSpec),
            Input.of(ClusterMachineSpec),
            Input.of(ClusterMachineStatusSpec),
            Input.of(MachineStatusSpec),
        ]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(ClusterStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        allocated = await ctx.reader.list(ClusterMachineSpec)
        held = {cm.id for cm in allocated}
        if not concerns(ctx.changed, held):
            ctx.skip()  # the health checks still come at their interval
            return
        machines = {uuid: m.spec for uuid, m in (await statuses_of(ctx, held)).items()}
        steps = {s.id: s.spec for s in await ctx.reader.list(ClusterMachineStatusSpec)}
        for cluster in await ctx.reader.list(ClusterSpec):
            mine = [cm for cm in allocated if cm.spec.cluster == cluster.id]
            status = await self._status(cluster, mine, machines, steps)
            await ctx.modify(Resource.new(cluster.id, status))
        await ctx.cleanup_outputs(ClusterStatusSpec)
        for gone in self._checked.keys() - {c.id for c in await ctx.reader.list(ClusterSpec)}:
            del self._checked[gone]
        if self._checked:
            ctx.requeue_after(self._interval)

    async def _status(
        self,
        cluster: Resource[ClusterSpec],
        mine: list[Resource[ClusterMachineSpec]],
        machines: dict[str, MachineStatusSpec],
        steps: dict[str, ClusterMachineStatusSpec],
    ) -> ClusterStatusSpec:
        template = cluster.spec.template
        fingerprint = template.fingerprint()
        summaries = [_summary(cm, machines.get(cm.id), steps.get(cm.id)) for cm in mine]
        live = [s for s in summaries if not s.releasing]
        running = [s for s in live if s.phase == MachinePhase.RUNNING]
        desired = sum(s.size for s in template.machine_sets())
        waiting = [
            f"{s.set_name}: {have} of {s.size} machines (no free machine fits yet)"
            for s in template.machine_sets()
            if (have := sum(1 for m in live if m.set_name == s.set_name)) < s.size
        ]
        if cluster.metadata.phase is Phase.TEARING_DOWN:
            phase, waiting = "deleting", []
        elif waiting:
            phase = "allocating"
        elif (
            len(running) < len(live)
            or any(s.releasing for s in summaries)
            or any(_behind(steps.get(cm.id), fingerprint) for cm in mine)
        ):
            phase = "configuring"  # or the template changed and not every machine saw it
        else:
            phase = "running"
        paused = next(
            (
                f"rollout paused: machine {cm.id}: {step.paused}"
                for cm in mine
                if (step := steps.get(cm.id)) is not None and step.paused
            ),
            "",
        )
        checks, members = await self._health(cluster.id, running, phase)
        healthy = phase == "running" and bool(checks) and all(c.ok for c in checks)
        return ClusterStatusSpec(
            phase=phase,
            endpoint=next((cm.spec.endpoint for cm in mine if cm.spec.bootstrap), ""),
            desired=desired,
            running=len(running),
            machines=summaries,
            waiting_for=waiting,
            etcd_members=members,
            checks=checks,
            healthy=healthy,
            rollout=paused,
            template=fingerprint,
        )

    async def _health(
        self, cluster: str, running: list[MachineSummary], phase: str
    ) -> tuple[list[HealthCheck], list[str]]:
        if phase == "deleting" or not running:
            self._checked.pop(cluster, None)
            return [], []
        nodes = tuple(sorted(f"{s.machine_type}:{s.uuid}" for s in running))
        last = self._checked.get(cluster)
        now = time.monotonic()
        if last is not None and last[1] == nodes and now - last[0] < self._interval:
            return last[2], last[3]
        planes = tuple(s.uuid for s in running if s.machine_type == MachineType.CONTROLPLANE)
        workers = tuple(s.uuid for s in running if s.machine_type == MachineType.WORKER)
        found = await check_cluster(self._dial, HealthTargets(planes, workers))
        checks = [HealthCheck(name=c.name, node=c.node, ok=c.ok, reason=c.reason) for c in found]
        members = await self._members(planes)
        self._checked[cluster] = (time.monotonic(), nodes, checks, members)
        return checks, members

    async def _members(self, planes: Sequence[str]) -> list[str]:
        for uuid in planes:
            try:
                async with self._dial(uuid) as api:
                    listings = await api.etcd_members()
            except KilnError:  # a client error, or the machine went away
                continue
            return sorted(
                m.hostname + (" (learner)" if m.is_learner else "")
                for listing in listings
                for m in listing.members
            )
        return []


def _behind(step: ClusterMachineStatusSpec | None, fingerprint: str) -> bool:
    return step is None or step.template != fingerprint


def _summary(
    cm: Resource[ClusterMachineSpec],
    machine: MachineStatusSpec | None,
    step: ClusterMachineStatusSpec | None,
) -> MachineSummary:
    extra: dict[str, Any] = {}
    if machine is not None:
        extra = {
            "hostname": machine.hostname,
            "connected": machine.connected,
            "stage": machine.stage,
        }
    return MachineSummary(
        uuid=cm.id,
        set_name=cm.spec.set_name,
        machine_type=cm.spec.machine_type.value,
        address=cm.spec.address,
        phase=step.phase.value if step else MachinePhase.WAITING.value,
        message=step.message if step else "",
        releasing=cm.metadata.phase is Phase.TEARING_DOWN,
        bootstrap=cm.spec.bootstrap,
        **extra,
    )
