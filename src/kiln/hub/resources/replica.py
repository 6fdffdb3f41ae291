"""HubReplica: one running ``kiln-hub serve`` process on the hub's database.

Each replica writes its own record at start and refreshes ``heartbeat`` while it runs; the
leader (the one replica running the controllers) marks itself. The leader removes the record
of a replica silent for longer than its grace and releases the machines linked to it.
"""

from __future__ import annotations

from datetime import datetime

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition

OWNER = "hub.Replica"


@definition(
    "HubReplica",
    namespace=namespaces.HUB,
    aliases=("replicas", "replica"),
    print_columns=(
        PrintColumn("Leader", "leader"),
        PrintColumn("API", "api_address"),
        PrintColumn("Heartbeat", "heartbeat"),
    ),
    description="A running hub process on this database; the leader runs the controllers.",
)
class HubReplicaSpec(Spec):
    api_address: str
    peer_address: str  # HOST:PORT other replicas reach its peer port on
    version: str = ""
    started: datetime
    heartbeat: datetime
    leader: bool = False
