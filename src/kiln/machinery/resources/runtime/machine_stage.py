"""MachineStage: the stage the node's sequencer has put the machine in.

The sequencer is its only writer; :mod:`machine_status` turns it, the services and the config
into the machine's status and readiness.
"""

from __future__ import annotations

from enum import StrEnum

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "MachineStage"
ID = "machine"


class Stage(StrEnum):
    """Where a machine is in its life."""

    MAINTENANCE = "maintenance"  # no config: only ApplyConfiguration, Version and Hardware
    BOOTING = "booting"
    RUNNING = "running"
    REBOOTING = "rebooting"
    SHUTTING_DOWN = "shutting-down"
    RESETTING = "resetting"
    UPGRADING = "upgrading"


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    print_columns=(
        PrintColumn("Stage", "stage"),
        PrintColumn("Phase", "phase"),
        PrintColumn("Waiting", "waiting"),
    ),
    description="The stage the sequencer has put the machine in.",
)
class MachineStageSpec(Spec):
    stage: Stage = Stage.BOOTING
    phase: str = ""  # the sequencer phase that set the stage
    waiting: str = ""  # what the sequencer waits for before it goes on ("" when nothing)


def new(stage: Stage, phase: str = "", waiting: str = "") -> Resource[MachineStageSpec]:
    return Resource.new(ID, MachineStageSpec(stage=stage, phase=phase, waiting=waiting))
