"""What lives as long as the daemon process, across boots, and what a boot can ask of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kiln.machined.apply.store import ConfigStore
from kiln.machined.controllers import HostSeams
from kiln.machined.events import EventBus
from kiln.machined.node.logsink import ServiceLogHandler
from kiln.machined.node.options import NodeOptions
from kiln.resources import Registry


class Action(StrEnum):
    """What ends a boot."""

    REBOOT = "reboot"  # boot again from the stored config (in place, in container mode)
    SHUTDOWN = "shutdown"  # stop and exit
    RESET = "reset"  # wipe the state and boot into maintenance mode


#: Ask the node to end the current boot with an action, giving the reason for the log.
RequestAction = Callable[[Action, str], None]


@dataclass(frozen=True)
class NodeEnv:
    """The node's long-lived parts, shared by each boot."""

    options: NodeOptions
    store: ConfigStore
    events: EventBus
    registry: Registry
    host: HostSeams
    log: ServiceLogHandler
