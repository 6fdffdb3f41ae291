"""MachineStatusController: Machine + MachineLabels (+ ClusterMachine) → MachineStatus, with
system labels derived from the machine's facts and its cluster (``kiln.dev/cluster``; a free
machine has none) plus the user's labels (a user label never overrides a system one)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kiln.hub.resources import (
    ClusterMachineSpec,
    MachineLabelsSpec,
    MachineSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.machine_status import SYSTEM_PREFIX
from kiln.resources import Controller, Input, Output, Pointer, ReconcileContext, Resource

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


#: A pass waits this long first, so that a burst of changes (machines connecting by the
#: hundred) is one pass over the inventory, not one per machine.
BATCH = 1.0


class MachineStatusController(Controller):
    name = "inventory.MachineStatusController"

    def __init__(self, batch: float = BATCH) -> None:
        self._batch = batch
        # What this controller (the only writer) last wrote, so that a pass need not read
        # every status back; None until a pass has read them once.
        self._written: dict[str, tuple[MachineStatusSpec, dict[str, str]]] | None = None

    def inputs(self) -> Sequence[Input]:
        return [Input.of(MachineSpec), Input.of(MachineLabelsSpec), Input.of(ClusterMachineSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(MachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        """One listing of the machines and of the labels, then writes only where a status
        differs from what this controller last wrote: a change to one of thousands of
        machines costs two listings, not thousands of reads."""
        if self._batch and self._written is not None:  # the first pass goes at once
            await asyncio.sleep(self._batch)  # changes meanwhile are taken by this pass
        user = {found.id: found.spec.labels for found in await ctx.reader.list(MachineLabelsSpec)}
        clusters = {cm.id: cm.spec.cluster for cm in await ctx.reader.list(ClusterMachineSpec)}
        written = self._written
        self._written = None  # unknown again until this pass completes
        if written is None:
            written = {
                found.id: (found.spec, dict(found.metadata.labels))
                for found in await ctx.reader.list(MachineStatusSpec)
            }
        machines = await ctx.reader.list(MachineSpec)
        for machine in machines:
            own = system_labels(machine.spec, clusters.get(machine.id, ""))
            labels = {**user.get(machine.id, {}), **own}
            spec = status_of(machine.spec)
            if written.get(machine.id) == (spec, labels):
                continue
            await ctx.modify(Resource.new(machine.id, spec, labels=labels))
            written[machine.id] = (spec, labels)
        for gone in written.keys() - {machine.id for machine in machines}:
            ptr = Pointer.of(MachineStatusSpec, gone)
            if await ctx.teardown(ptr):
                await ctx.destroy(ptr)
            del written[gone]
        self._written = written
