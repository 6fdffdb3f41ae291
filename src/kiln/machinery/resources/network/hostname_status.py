"""HostnameStatus: the node's hostname, from the config or else the system's."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "HostnameStatus"
ID = "hostname"


@definition(
    TYPE,
    namespace=namespaces.NETWORK,
    aliases=("hostname",),
    print_columns=(PrintColumn("Hostname", "hostname"), PrintColumn("Source", "source")),
    description="The node's hostname and where it comes from.",
)
class HostnameStatusSpec(Spec):
    hostname: str
    source: str  # "config" or "system"


def new(hostname: str, source: str) -> Resource[HostnameStatusSpec]:
    return Resource.new(ID, HostnameStatusSpec(hostname=hostname, source=source))
