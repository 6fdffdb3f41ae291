"""Machine: a machine that joined, as its link to the hub reports it.

Written only by the hub's join and link handlers (owner :data:`OWNER`). ``secret_hash`` ties
the machine's UUID to the secret it joined with; ``certificate_serial`` is the serial of the
one certificate the hub accepts from it (a later join or a revocation replaces it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition

OWNER = "hub.MachineLink"


class DiskFact(Spec):
    device: str
    size: int
    model: str = ""


class MachineFacts(Spec):
    hostname: str = ""
    addresses: list[str] = Field(default_factory=list)
    version: str = ""
    arch: str = ""
    os: str = ""
    stage: str = ""
    maintenance: bool = False
    cpus: int = 0
    memory: int = 0
    disks: list[DiskFact] = Field(default_factory=list)
    interfaces: list[str] = Field(default_factory=list)
    platform: str = ""
    api_certificate: str = ""  # PEM the machine's API serves


@definition(
    "Machine",
    namespace=namespaces.INVENTORY,
    aliases=("rawmachines",),
    print_columns=(PrintColumn("Connected", "connected"), PrintColumn("Revoked", "revoked")),
    description="A joined machine as its link reports it (facts, connection, identity).",
)
class MachineSpec(Spec):
    secret_hash: str
    certificate_serial: str = ""
    joined_with: str = ""  # the join token's id
    revoked: bool = False
    connected: bool = False
    replica: str = ""  # the hub replica holding its link while connected
    last_seen: datetime | None = None
    connected_since: datetime | None = None  # when its current link came up
    facts: MachineFacts = Field(default_factory=MachineFacts)
