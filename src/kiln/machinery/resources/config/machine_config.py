"""MachineConfig: the machine config the node runs with, as plain documents (sensitive).

Readers without the admin role see :meth:`MachineConfigSpec.redacted` instead: every key,
token and secret replaced by ``******``.
"""

from __future__ import annotations

from typing import Self

from pydantic import JsonValue

from kiln.machinery.config import MachineConfig
from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "MachineConfig"
ID = "v1alpha1"


@definition(
    TYPE,
    namespace=namespaces.CONFIG,
    aliases=("machineconfigs", "mc"),
    print_columns=(
        PrintColumn("Machine", "documents[0].machine.type"),
        PrintColumn("Cluster", "documents[0].cluster.name"),
    ),
    sensitive=True,
    description="The machine config the node runs with.",
)
class MachineConfigSpec(Spec):
    documents: list[dict[str, JsonValue]] = []

    @classmethod
    def of(cls, config: MachineConfig) -> MachineConfigSpec:
        return cls(documents=config.to_documents())

    def config(self, source: str = "machine config resource") -> MachineConfig:
        """The typed config (ConfigError if the documents do not validate)."""
        return MachineConfig.from_documents(self.documents, source)

    def redacted(self) -> Self:
        """The spec with every secret replaced by ``******``."""
        return type(self)(documents=self.config().redacted().to_documents())


def new(config: MachineConfig) -> Resource[MachineConfigSpec]:
    return Resource.new(ID, MachineConfigSpec.of(config))
