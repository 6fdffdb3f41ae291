"""MachineCredentials: how the hub calls a configured machine's API (a client certificate
from the machine's cluster OS CA). Sensitive: never listed to clients."""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import definition


@definition(
    "MachineCredentials",
    namespace=namespaces.INVENTORY,
    sensitive=True,
    description="The client certificate the hub calls a configured machine's API with.",
)
class MachineCredentialsSpec(Spec):
    ca: str  # PEM
    crt: str  # PEM
    key: str  # PEM
