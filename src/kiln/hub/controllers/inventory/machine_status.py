"""MachineStatusController: Machine + MachineLabels (+ ClusterMachine) → MachineStatus, with
system labels derived from the machine's facts and its cluster (``kiln.dev/cluster``; a free
machine has none) plus the user's labels (a user label never overrides a system one)."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.hub.resources import (
    ClusterMachineSpec,
    MachineLabelsSpec,
    MachineSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.machine_status import SYSTEM_PREFIX
from kiln.resources import Controller, Input, Kind, Output, Pointer, ReconcileContext, Resource

GIB = 1024**3


def system_labels(machine: MachineSpec, cluster: str = "") -> dict[str, str]:
    facts = machine.facts
    labels = {
        "connected": str(machine.connected).lower(),
        "stage": facts.stage,
        "platform": facts.platform,
        "arch": facts.arch,
        "version": facts.version,
        "cpus": str(facts.cpus),
        "memory-gib": str(round(facts.memory / GIB)) if facts.memory else "",
        "disks": str(len(facts.disks)),
        "cluster": cluster,
    }
    if machine.revoked:
        labels["revoked"] = "true"
    return {SYSTEM_PREFIX + key: value for key, value in labels.items() if value}


def status_of(machine: MachineSpec) -> MachineStatusSpec:
    facts = machine.facts
    return MachineStatusSpec(
        hostname=facts.hostname,
        connected=machine.connected,
        last_seen=machine.last_seen,
        connected_since=machine.connected_since if machine.connected else None,
        revoked=machine.revoked,
        stage=facts.stage,
        version=facts.version,
        addresses=list(facts.addresses),
        cpus=facts.cpus,
        memory=facts.memory,
        disks=list(facts.disks),
        interfaces=list(facts.interfaces),
        platform=facts.platform,
        arch=facts.arch,
    )


#: What the controller last wrote for each machine: its status and labels.
Written = dict[str, tuple[MachineStatusSpec, dict[str, str]]]

#: A pass waits this long after a change (the runtime's coalescing), so that a burst of
#: changes (machines connecting by the hundred) is one pass, not one per machine.
BATCH = 1.0


class MachineStatusController(Controller):
    name = "inventory.MachineStatusController"

    def __init__(self, batch: float = BATCH) -> None:
        self.coalesce = batch
        # What this controller (the only writer) last wrote, so that a pass need not read
        # every status back; None until a pass has read them once.
        self._written: Written | None = None

    def inputs(self) -> Sequence[Input]:
        return [Input.of(MachineSpec), Input.of(MachineLabelsSpec), Input.of(ClusterMachineSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(MachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        """A full pass at first (and whenever the runtime cannot say what changed); then only
        the machines whose Machine, MachineLabels or ClusterMachine changed: a heartbeat or
        a join among thousands of machines costs a few reads, not a listing of them all."""
        written = self._written
        self._written = None  # unknown again until this pass completes
        if ctx.changed is None or written is None:
            self._written = await self._full_pass(ctx, written)
            return
        status_type = Kind.of(MachineStatusSpec).type
        for machine_id in sorted({p.id for p in ctx.changed if p.type != status_type}):
            await self._refresh(ctx, machine_id, written)
        self._written = written

    async def _full_pass(self, ctx: ReconcileContext, written: Written | None) -> Written:
        """One listing of the machines, labels and cluster machines, then writes only where a
        status differs from what this controller last wrote."""
        user = {found.id: found.spec.labels for found in await ctx.reader.list(MachineLabelsSpec)}
        clusters = {cm.id: cm.spec.cluster for cm in await ctx.reader.list(ClusterMachineSpec)}
        if written is None:
            written = {
                found.id: (found.spec, dict(found.metadata.labels))
                for found in await ctx.reader.list(MachineStatusSpec)
            }
        machines = await ctx.reader.list(MachineSpec)
        for machine in machines:
            await self._write(
                ctx, machine, user.get(machine.id, {}), clusters.get(machine.id, ""), written
            )
        for gone in written.keys() - {machine.id for machine in machines}:
            await self._remove(ctx, gone, written)
        return written

    async def _refresh(self, ctx: ReconcileContext, machine_id: str, written: Written) -> None:
        """The status of one machine, from its Machine, MachineLabels and ClusterMachine."""
        machine = await ctx.reader.find(MachineSpec, machine_id)
        if machine is None:
            if machine_id in written:
                await self._remove(ctx, machine_id, written)
            return
        labels = await ctx.reader.find(MachineLabelsSpec, machine_id)
        member = await ctx.reader.find(ClusterMachineSpec, machine_id)
        user = labels.spec.labels if labels is not None else {}
        await self._write(ctx, machine, user, member.spec.cluster if member else "", written)

    @staticmethod
    async def _write(
        ctx: ReconcileContext,
        machine: Resource[MachineSpec],
        user: dict[str, str],
        cluster: str,
        written: Written,
    ) -> None:
        labels = {**user, **system_labels(machine.spec, cluster)}
        spec = status_of(machine.spec)
        if written.get(machine.id) == (spec, labels):
            return
        await ctx.modify(Resource.new(machine.id, spec, labels=labels))
        written[machine.id] = (spec, labels)

    @staticmethod
    async def _remove(ctx: ReconcileContext, machine_id: str, written: Written) -> None:
        ptr = Pointer.of(MachineStatusSpec, machine_id)
        if await ctx.teardown(ptr):
            await ctx.destroy(ptr)
        del written[machine_id]
