"""MountStatus: one per filesystem mounted on the machine (metal mode), by mount point: where
it comes from, its type and options, and whether the kernel lets the node write to it (probed
with ``access(2)``, which a read-only mount answers with EROFS)."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "MountStatus"


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    aliases=("mounts", "mount"),
    print_columns=(
        PrintColumn("Source", "source"),
        PrintColumn("Type", "fstype"),
        PrintColumn("Writable", "writable"),
        PrintColumn("Options", "options"),
    ),
    description="The filesystems mounted on the machine.",
)
class MountStatusSpec(Spec):
    source: str
    fstype: str
    options: str  # the mount's own options (ro or rw first)
    writable: bool


def new(point: str, spec: MountStatusSpec) -> Resource[MountStatusSpec]:
    return Resource.new(point, spec)
