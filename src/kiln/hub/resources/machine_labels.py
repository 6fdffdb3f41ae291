"""MachineLabels: the labels users put on a machine (``kiln-hub label``)."""

from __future__ import annotations

from pydantic import Field

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import definition


@definition(
    "MachineLabels",
    namespace=namespaces.INVENTORY,
    description="User labels of a machine, merged into its MachineStatus labels.",
)
class MachineLabelsSpec(Spec):
    labels: dict[str, str] = Field(default_factory=dict)
