"""NodeAddress: the IP addresses the node has (loopback excluded)."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "NodeAddress"
ID = "current"


@definition(
    TYPE,
    namespace=namespaces.NETWORK,
    aliases=("addresses", "nodeaddresses"),
    print_columns=(PrintColumn("Addresses", "addresses"),),
    description="The IP addresses of the node.",
)
class NodeAddressSpec(Spec):
    addresses: list[str] = []


def new(addresses: list[str]) -> Resource[NodeAddressSpec]:
    return Resource.new(ID, NodeAddressSpec(addresses=addresses))
