"""BootSlots: the A/B slots of an installed machine, what each holds and which one runs.

The sequencer writes it at boot and after an upgrade or a rollback; on a machine that was
not installed to a disk (booted over the network, or a container) it is absent.
"""

from __future__ import annotations

from pydantic import BaseModel

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "BootSlots"
ID = "slots"


class BootSlot(BaseModel):
    slot: str  # "A" or "B"
    state: str  # good, trying, bad, empty (kiln.machinery.osimage.bootentries.SlotState)
    version: str = ""
    preferred: bool = False  # what the firmware boots next
    failure: str = ""  # why a bad slot was given up on ("failed to boot", "did not become ...")


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    print_columns=(
        PrintColumn("Active", "active"),
        PrintColumn("Rolled back", "rolledBack"),
    ),
    description="The A/B boot slots of an installed machine.",
)
class BootSlotsSpec(Spec):
    active: str = ""  # the slot this boot runs from
    rolled_back: bool = False  # the firmware fell back to this slot: the other failed to boot
    slots: list[BootSlot] = []


def new(spec: BootSlotsSpec) -> Resource[BootSlotsSpec]:
    return Resource.new(ID, spec)
