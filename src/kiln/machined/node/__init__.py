"""The node daemon's sequencer and the boots it runs.

:class:`Node` is the facade: make it with :class:`NodeOptions`, ``await node.run()``, and call
:meth:`Node.request_shutdown` from a signal handler. During a boot, ``node.boot`` is what the
API serves (:class:`~kiln.machined.api.control.NodeControl`).
"""

from kiln.machined.node.boot import Boot
from kiln.machined.node.env import Action
from kiln.machined.node.node import Node
from kiln.machined.node.options import NodeOptions, parse_api_addr, parse_extra_service
from kiln.machined.node.phases import Phase

__all__ = [
    "Action",
    "Boot",
    "Node",
    "NodeOptions",
    "Phase",
    "parse_api_addr",
    "parse_extra_service",
]
