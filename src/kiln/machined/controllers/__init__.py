"""The one list of a node's controllers: read it to know what a node does.

Controllers live in a folder per domain (``runtime/``, ``network/``), named like the resources
they write in :mod:`kiln.machinery.resources`. Their seams (the host's hostname and addresses)
come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiln.machined.controllers.network.hostname_status import HostnameStatusController
from kiln.machined.controllers.network.node_address import NodeAddressController
from kiln.machined.controllers.runtime.machine_status import MachineStatusController
from kiln.resources import Controller


@dataclass(frozen=True)
class HostSeams:
    """What controllers read from the host, replaceable in tests."""

    hostname: Callable[[], str]
    addresses: Callable[[], list[str]]


def node_controllers(host: HostSeams) -> list[Controller]:
    """Every controller of a node, in the order they are registered."""
    return [
        # MachineStage + MachineConfig + Service -> MachineStatus (stage, readiness, unmet)
        MachineStatusController(),
        # MachineConfig -> HostnameStatus (the config's hostname, else the system's)
        HostnameStatusController(host.hostname),
        # the host's interfaces -> NodeAddress (refreshed every 30 s)
        NodeAddressController(host.addresses),
    ]
