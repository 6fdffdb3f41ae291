"""Version: what the node runs (Kiln's version, Python, the OS and the architecture)."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "Version"
ID = "version"


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    aliases=("versions",),
    print_columns=(
        PrintColumn("Tag", "tag"),
        PrintColumn("Python", "python"),
        PrintColumn("Arch", "arch"),
    ),
    description="The versions the node runs.",
)
class VersionSpec(Spec):
    tag: str
    python: str
    os: str
    arch: str


def new(spec: VersionSpec) -> Resource[VersionSpec]:
    return Resource.new(ID, spec)
