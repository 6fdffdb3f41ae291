"""How ``kiln-hub template status`` shows a cluster: a headline, the etcd members, a table of
its machines and the health checks (failed ones first), as one rich renderable so that
``--wait`` can redraw it in place."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kiln.hub.resources import ClusterSpec, ClusterStatusSpec
from kiln.resources import Resource

PHASE_STYLES = {"running": "green", "failed": "red", "resetting": "yellow"}


def headline(name: str, status: ClusterStatusSpec | None) -> str:
    if status is None:
        return f"cluster {name}: no status yet"
    if status.phase == "deleting":
        return f"cluster {name}: deleting; {len(status.machines)} machine(s) still to release"
    health = "healthy" if status.healthy else "not healthy yet"
    return (
        f"cluster {name}: {status.phase}, {health}; "
        f"{status.running}/{status.desired} machines running"
    )


def render_status(
    cluster: Resource[ClusterSpec], status: ClusterStatusSpec | None
) -> RenderableType:
    parts: list[RenderableType] = [Text(headline(cluster.id, status), style="bold")]
    if status is None:
        return Group(*parts)
    template = cluster.spec.template
    versions = (
        [f"kubernetes {template.cluster.kubernetes.version}"] if template.cluster.kubernetes else []
    )
    if template.cluster.kiln:
        versions.append(f"kiln {template.cluster.kiln.version}")
    if versions:
        parts.append(Text(", ".join(versions)))
    if status.rollout:
        parts.append(Text(status.rollout, style="red"))
    for waiting in status.waiting_for:
        parts.append(Text(f"waiting for {waiting}", style="yellow"))
    if status.phase != "deleting":
        members = ", ".join(status.etcd_members) or "none yet"
        parts.append(Text(f"etcd members: {members}"))
    parts.append(_machines(status))
    names = {m.uuid: m.hostname or m.uuid for m in status.machines}
    checks = sorted(status.checks, key=lambda c: c.ok)
    for check in checks:
        mark = Text("✓ ", style="green") if check.ok else Text("✗ ", style="red")
        where = f"{names.get(check.node, check.node)}: " if check.node else ""
        parts.append(Text.assemble(mark, f"{where}{check.name}: {check.reason}"))
    return Group(*parts)


def _machines(status: ClusterStatusSpec) -> RenderableType:
    table = Table(box=None, pad_edge=False)
    for column in ("UUID", "SET", "TYPE", "HOSTNAME", "CONNECTED", "STAGE", "PHASE", "MESSAGE"):
        table.add_column(column)
    for machine in status.machines:
        phase = "releasing" if machine.releasing and machine.phase != "failed" else machine.phase
        table.add_row(
            machine.uuid,
            machine.set_name,
            machine.machine_type,
            machine.hostname,
            "yes" if machine.connected else "no",
            machine.stage,
            Text(phase, style=PHASE_STYLES.get(phase, "")),
            machine.message,
        )
    if not status.machines:
        table.add_row("(no machine allocated yet)", *[""] * 7)
    return table


def split(resources: list[Resource[Any]]) -> tuple[Resource[ClusterSpec], ClusterStatusSpec | None]:
    """GetCluster's answer: the Cluster, then its status if there is one yet."""
    cluster: Resource[ClusterSpec] = resources[0]
    status = resources[1].spec if len(resources) > 1 else None
    return cluster, status
