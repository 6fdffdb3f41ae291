"""MachineStatus: the inventory's view of a machine, what ``kiln-hub get machines`` lists.

Its labels are the system labels derived from the machine's facts (:data:`SYSTEM_PREFIX`)
plus the user's labels, so selectors work on both. One key under the system prefix is the
user's to set: :data:`LOCKED_LABEL` (any value) keeps the machine out of rolling upgrades.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kiln.hub.resources import namespaces
from kiln.hub.resources.machine import DiskFact
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition

SYSTEM_PREFIX = "kiln.dev/"
LOCKED_LABEL = SYSTEM_PREFIX + "locked"


@definition(
    "MachineStatus",
    namespace=namespaces.INVENTORY,
    aliases=("machines", "ms"),
    print_columns=(
        PrintColumn("Hostname", "hostname"),
        PrintColumn("Connected", "connected"),
        PrintColumn("Stage", "stage"),
        PrintColumn("Version", "version"),
        PrintColumn("Addresses", "addresses"),
        PrintColumn("CPUs", "cpus"),
        PrintColumn("Memory", lambda r: f"{r.spec.memory / 1024**3:.1f} GiB"),
        PrintColumn("Last seen", "lastSeen"),
    ),
    description="A machine of the inventory: facts, stage, connection; system + user labels.",
)
class MachineStatusSpec(Spec):
    hostname: str = ""
    connected: bool = False
    last_seen: datetime | None = None
    connected_since: datetime | None = None
    revoked: bool = False
    stage: str = ""
    version: str = ""
    addresses: list[str] = Field(default_factory=list)
    cpus: int = 0
    memory: int = 0
    disks: list[DiskFact] = Field(default_factory=list)
    interfaces: list[str] = Field(default_factory=list)
    platform: str = ""
    arch: str = ""
