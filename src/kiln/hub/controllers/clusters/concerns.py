"""What a change means to the cluster controllers. Among thousands of machines, most joins,
connections and facts updates are of machines no cluster holds: a controller told of only
such changes skips its run instead of reading every machine."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterSpec,
    MachineLabelsSpec,
    MachineStatusSpec,
)
from kiln.resources import Kind, Phase, Pointer, ReconcileContext, Resource

# Resources there is one of per machine, named by the machine's UUID.
_PER_MACHINE = frozenset(Kind.of(spec).type for spec in (MachineStatusSpec, MachineLabelsSpec))


def concerns(
    changed: frozenset[Pointer] | None, held: Collection[str], *, any_machine: bool = False
) -> bool:
    """Whether ``changed`` (None: anything may have) holds a change to a cluster resource, or
    to a machine's status or labels where a cluster holds the machine (``held``: their
    UUIDs) or, with ``any_machine``, to any machine's."""
    if changed is None or any_machine:
        return True
    return any(p.type not in _PER_MACHINE or p.id in held for p in changed)


def short_of_machines(
    clusters: Iterable[Resource[ClusterSpec]], allocated: Iterable[Resource[ClusterMachineSpec]]
) -> bool:
    """Whether a cluster that is not being deleted lacks a machine one of its sets asks for
    (a machine the set names by UUID, or one of the ``count`` its selector wants): then any
    machine may be the one it takes next."""
    held: dict[tuple[str, str], set[str]] = {}
    for cm in allocated:
        if cm.metadata.phase is Phase.RUNNING:
            held.setdefault((cm.spec.cluster, cm.spec.set_name), set()).add(cm.id)
    for cluster in clusters:
        if cluster.metadata.phase is Phase.TEARING_DOWN:
            continue
        for machine_set in cluster.spec.template.machine_sets():
            mine = held.get((cluster.id, machine_set.set_name), set())
            if machine_set.machine_selector is None:
                if not set(machine_set.machines) <= mine:
                    return True
            elif len(mine) < machine_set.machine_selector.count:
                return True
    return False


async def statuses_of(
    ctx: ReconcileContext, machines: Iterable[str]
) -> dict[str, Resource[MachineStatusSpec]]:
    """The MachineStatus of each of ``machines`` that has one, read one by one: a cluster
    holds a few of the inventory's machines, and listing them all costs the whole inventory."""
    found = {uuid: await ctx.reader.find(MachineStatusSpec, uuid) for uuid in set(machines)}
    return {uuid: status for uuid, status in found.items() if status is not None}
