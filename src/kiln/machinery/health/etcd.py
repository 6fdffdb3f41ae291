"""Health checks of the cluster's etcd, asked of every control-plane node: the same members
everywhere, one per control plane, all voting; every member answering without errors, and one
leader that all agree on."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.machinery.health.checks import Check
from kiln.machinery.kilnconfig import Context

NOT_AVAILABLE = (
    "cannot be checked: the machine API client has no etcd calls yet "
    "(etcd is not wired into the node daemon)"
)


async def etcd_checks(context: Context, controlplanes: Sequence[str]) -> list[Check]:
    """The etcd checks of the cluster whose control-plane nodes are ``controlplanes``."""
    return [Check("etcd members", "", False, NOT_AVAILABLE)]
