"""MachineIdentity: the node's own id, made once and kept on disk across restarts."""

from __future__ import annotations

import uuid

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "MachineIdentity"
ID = "machine"


@definition(
    TYPE,
    namespace=namespaces.PERSISTENT,
    aliases=("identity",),
    print_columns=(PrintColumn("UUID", "uuid"),),
    description="The node's id, kept across restarts (cleared by a reset).",
)
class MachineIdentitySpec(Spec):
    uuid: str


def new() -> Resource[MachineIdentitySpec]:
    return Resource.new(ID, MachineIdentitySpec(uuid=str(uuid.uuid4())))
