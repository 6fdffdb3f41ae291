"""MachineStatusController: the machine's stage and readiness from the sequencer's stage, the
config and the services (the Kubernetes control plane aside: the node serves without it)."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.machinery.kubernetes.services import KUBERNETES_SERVICES
from kiln.machinery.resources import (
    BootSlotsSpec,
    MachineConfigSpec,
    MachineStageSpec,
    MachineStatusSpec,
    ServiceStatusSpec,
    Stage,
)
from kiln.machinery.resources.runtime import boot_slots, machine_stage, machine_status
from kiln.resources import Controller, Input, Output, ReconcileContext, Resource

# Service states that mean "meant to run but not running": a service stopped on request or
# one that finished does not hold readiness back.
_NOT_YET = frozenset({"waiting", "preparing", "starting", "failed", "stopping"})


class MachineStatusController(Controller):
    name = "runtime.MachineStatusController"

    def inputs(self) -> Sequence[Input]:
        return [
            Input.of(MachineStageSpec, id=machine_stage.ID),
            Input.of(MachineConfigSpec),
            Input.of(ServiceStatusSpec),
            Input.of(BootSlotsSpec, id=boot_slots.ID),
        ]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(MachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        found = await ctx.reader.find(MachineStageSpec, machine_stage.ID)
        stage = found.spec.stage if found is not None else Stage.BOOTING
        configured = bool(await ctx.reader.list(MachineConfigSpec))
        services = await ctx.reader.list(ServiceStatusSpec)
        unmet = unmet_conditions(stage, configured, services)
        if found is not None and found.spec.waiting:
            unmet.insert(1 if unmet else 0, f"waiting for {found.spec.waiting}")
        slots = await ctx.reader.find(BootSlotsSpec, boot_slots.ID)
        active, found_slots = (slots.spec.active, slots.spec.slots) if slots else ("", [])
        await ctx.modify(machine_status.new(stage, unmet, active, list(found_slots)))


def unmet_conditions(
    stage: Stage, configured: bool, services: Sequence[Resource[ServiceStatusSpec]]
) -> list[str]:
    """What keeps the machine from being ready, in words (empty: it is ready)."""
    if stage is Stage.MAINTENANCE:
        return ["no machine config: the node is in maintenance mode"]
    unmet: list[str] = []
    if stage is not Stage.RUNNING:
        unmet.append(f"the machine is {stage.value}")
    if not configured:
        unmet.append("no machine config")
    for service in services:
        if service.id in KUBERNETES_SERVICES:
            continue  # the node serves without them: `kilnctl health` checks Kubernetes
        if service.spec.state in _NOT_YET:
            unmet.append(f"service {service.id} is {service.spec.state}")
        elif service.spec.running and service.spec.health == "unhealthy":
            unmet.append(f"service {service.id} is unhealthy")
    return unmet
