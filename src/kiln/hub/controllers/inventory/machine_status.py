"""MachineStatusController: Machine + MachineLabels → MachineStatus, with system labels
derived from the machine's facts plus the user's labels (a user label never overrides a
system one)."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.hub.resources import MachineLabelsSpec, MachineSpec, MachineStatusSpec
from kiln.hub.resources.machine_status import SYSTEM_PREFIX
from kiln.resources import Controller, Input, Output, ReconcileContext, Resource

GIB = 1024**3


def system_labels(machine: MachineSpec) -> dict[str, str]:
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

    def inputs(self) -> Sequence[Input]:
        return [Input.of(MachineSpec), Input.of(MachineLabelsSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(MachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        user = {found.id: found.spec.labels for found in await ctx.reader.list(MachineLabelsSpec)}
        for machine in await ctx.reader.list(MachineSpec):
            labels = {**user.get(machine.id, {}), **system_labels(machine.spec)}
            await ctx.modify(Resource.new(machine.id, status_of(machine.spec), labels=labels))
        await ctx.cleanup_outputs(MachineStatusSpec)
