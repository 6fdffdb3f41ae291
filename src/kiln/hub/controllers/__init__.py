"""Every controller the hub runs, in one list."""

from __future__ import annotations

from kiln.hub.controllers.inventory.machine_status import MachineStatusController
from kiln.resources import Controller


def hub_controllers() -> list[Controller]:
    return [MachineStatusController()]
