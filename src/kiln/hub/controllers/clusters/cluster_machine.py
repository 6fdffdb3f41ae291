"""ClusterMachineController: Cluster + MachineStatus → ClusterMachine, the allocation.

For every machine set of a cluster's template it keeps the machines the set names (by UUID)
or as many as its ``count`` of the free machines its selector matches. A machine is free when
no ClusterMachine holds it; only a connected machine in maintenance mode is taken, and when the
template names a Kiln version, only one on that version unless the template also gives the
image to upgrade to (the machine is configured, then upgraded in place like any machine behind
its cluster's version). The first control plane is the cluster's
bootstrap machine: etcd starts there and its address is the cluster's endpoint unless the
template gives one, so a smaller set gives up other machines first.

Machines no longer wanted, and every machine of a cluster being deleted, are torn down: the
lifecycle controller resets them and lets go; then they are destroyed here and free again.
The Cluster is held with this controller's finalizer until none of its machines is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiln.hub.controllers.clusters.concerns import concerns, short_of_machines, statuses_of
from kiln.hub.resources import ClusterMachineSpec, ClusterSpec, MachineStatusSpec
from kiln.hub.resources.cluster_machine import CLUSTER_LABEL, SET_LABEL
from kiln.hub.templates.configs import endpoint_of
from kiln.hub.templates.model import ClusterTemplate, ControlPlaneDocument, WorkersDocument
from kiln.machinery.config.model import MachineType
from kiln.resources import (
    Controller,
    Input,
    Output,
    Phase,
    ReconcileContext,
    Resource,
    Selector,
)

MachineSet = ControlPlaneDocument | WorkersDocument


def is_free_candidate(machine: Resource[MachineStatusSpec], template: ClusterTemplate) -> bool:
    spec = machine.spec
    if not spec.connected or spec.revoked or spec.stage != "maintenance" or not spec.addresses:
        return False
    kiln = template.cluster.kiln
    return kiln is None or kiln.image is not None or spec.version == kiln.wanted


class ClusterMachineController(Controller):
    name = "clusters.ClusterMachineController"

    def inputs(self) -> Sequence[Input]:
        return [Input.of(ClusterSpec), Input.of(MachineStatusSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(ClusterMachineSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        """Every machine is read only while a cluster is short of machines; otherwise only
        the ones clusters hold, and changes to other machines are skipped."""
        allocated = {cm.id: cm for cm in await ctx.reader.list(ClusterMachineSpec)}
        wanting = await ctx.reader.list(ClusterSpec)
        short = short_of_machines(wanting, allocated.values())
        if not concerns(ctx.changed, allocated, any_machine=short):
            ctx.skip()
            return
        if short:
            machines = {m.id: m for m in await ctx.reader.list(MachineStatusSpec)}
        else:
            machines = await statuses_of(ctx, allocated)
        for cluster in wanting:
            mine = [cm for cm in allocated.values() if cm.spec.cluster == cluster.id]
            if cluster.metadata.phase is Phase.TEARING_DOWN:
                await self._release(ctx, mine)
                if not mine and self.name in cluster.metadata.finalizers:
                    await ctx.remove_finalizer(cluster.pointer)
                continue
            if self.name not in cluster.metadata.finalizers:
                await ctx.add_finalizer(cluster.pointer)
            allocation = _Allocation(cluster, mine, machines, allocated)
            for created in allocation.plan():
                await ctx.create(created)
                allocated[created.id] = created
            await self._release(ctx, allocation.unwanted)
        clusters = {c.id for c in await ctx.reader.list(ClusterSpec)}
        leaving = [
            cm
            for cm in allocated.values()
            if cm.spec.cluster not in clusters or cm.metadata.phase is Phase.TEARING_DOWN
        ]
        await self._release(ctx, leaving)  # destroyed once the lifecycle controller lets go

    async def _release(self, ctx: ReconcileContext, machines: list[Resource[Any]]) -> None:
        for cm in machines:
            if await ctx.teardown(cm.pointer):
                await ctx.destroy(cm.pointer)


class _Allocation:
    """What one cluster's sets want, against what it holds and what is free."""

    def __init__(
        self,
        cluster: Resource[ClusterSpec],
        mine: list[Resource[ClusterMachineSpec]],
        machines: dict[str, Resource[MachineStatusSpec]],
        allocated: dict[str, Resource[ClusterMachineSpec]],
    ) -> None:
        self.cluster = cluster
        self.template = cluster.spec.template
        self.live = [cm for cm in mine if cm.metadata.phase is Phase.RUNNING]
        self.machines = machines
        self.taken = set(allocated)
        self.unwanted: list[Resource[Any]] = []
        bootstrap = next((cm for cm in mine if cm.spec.bootstrap), None)
        self.endpoint = bootstrap.spec.endpoint if bootstrap else ""

    def plan(self) -> list[Resource[ClusterMachineSpec]]:
        created: list[Resource[ClusterMachineSpec]] = []
        for machine_set in self.template.machine_sets():
            current = [cm for cm in self.live if cm.spec.set_name == machine_set.set_name]
            wanted = self._wanted(machine_set, current)
            keep = {cm.id for cm in current if cm.id in wanted}
            self.unwanted += [cm for cm in current if cm.id not in keep]
            for uuid in wanted:
                if uuid in keep:
                    continue
                if not self.endpoint and not isinstance(machine_set, ControlPlaneDocument):
                    continue  # workers wait for the bootstrap control plane (the endpoint)
                created.append(self._new(uuid, machine_set))
                self.taken.add(uuid)
        return created

    def _wanted(
        self, machine_set: MachineSet, current: list[Resource[ClusterMachineSpec]]
    ) -> list[str]:
        if machine_set.machine_selector is None:
            held = {cm.id for cm in current}
            return [
                uuid
                for uuid in machine_set.machines
                if uuid in held or (uuid not in self.taken and self._usable(uuid))
            ]
        count = machine_set.machine_selector.count
        # Keep the bootstrap machine first, then the oldest allocations.
        ranked = sorted(current, key=lambda cm: (not cm.spec.bootstrap, cm.metadata.created))
        kept = [cm.id for cm in ranked[:count]]
        selector = Selector.parse(machine_set.machine_selector.selector)
        for uuid, machine in sorted(self.machines.items()):
            if len(kept) >= count:
                break
            if (
                uuid not in self.taken
                and self._usable(uuid)
                and selector.matches(machine.metadata.labels)
            ):
                kept.append(uuid)
        return kept

    def _usable(self, uuid: str) -> bool:
        machine = self.machines.get(uuid)
        return machine is not None and is_free_candidate(machine, self.template)

    def _new(self, uuid: str, machine_set: MachineSet) -> Resource[ClusterMachineSpec]:
        address = self.machines[uuid].spec.addresses[0]
        control_plane = isinstance(machine_set, ControlPlaneDocument)
        bootstrap = control_plane and not self.endpoint
        if bootstrap:
            self.endpoint = endpoint_of(self.template, address)
        spec = ClusterMachineSpec(
            cluster=self.cluster.id,
            set_name=machine_set.set_name,
            machine_type=MachineType.CONTROLPLANE if control_plane else MachineType.WORKER,
            address=address,
            endpoint=self.endpoint,
            bootstrap=bootstrap,
        )
        labels = {CLUSTER_LABEL: self.cluster.id, SET_LABEL: machine_set.set_name}
        return Resource.new(uuid, spec, labels=labels)
