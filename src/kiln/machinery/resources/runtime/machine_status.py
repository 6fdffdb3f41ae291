"""MachineStatus: the machine's stage and whether it is ready, with what is still missing."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.runtime.boot_slots import BootSlot
from kiln.machinery.resources.runtime.machine_stage import Stage
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "MachineStatus"
ID = "machine"


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    aliases=("ms",),
    print_columns=(
        PrintColumn("Stage", "stage"),
        PrintColumn("Ready", "ready"),
        PrintColumn("Slot", "activeSlot"),
        PrintColumn("Unmet", "unmetConditions"),
    ),
    description="The machine's stage and readiness.",
)
class MachineStatusSpec(Spec):
    stage: Stage = Stage.BOOTING
    ready: bool = False
    unmet_conditions: list[str] = []
    active_slot: str = ""  # installed machines: the A/B slot this boot runs from
    slots: list[BootSlot] = []


def new(
    stage: Stage, unmet: list[str], active_slot: str = "", slots: list[BootSlot] | None = None
) -> Resource[MachineStatusSpec]:
    spec = MachineStatusSpec(
        stage=stage,
        ready=not unmet,
        unmet_conditions=unmet,
        active_slot=active_slot,
        slots=slots or [],
    )
    return Resource.new(ID, spec)
