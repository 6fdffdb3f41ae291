"""A cluster's health: every node's checks, the etcd checks and (asked for) the Kubernetes
control plane's, once or until they pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kiln.machinery.health.checks import Check, Reach, node_checks
from kiln.machinery.health.etcd import etcd_checks
from kiln.machinery.health.kubernetes import kubernetes_checks
from kiln.machinery.kilnconfig import Context

ROUND_INTERVAL = 1.0


@dataclass(frozen=True)
class HealthTargets:
    """The nodes to check, by role (addresses as in a kilnconfig: ``host`` or ``host:port``)."""

    controlplanes: tuple[str, ...]
    workers: tuple[str, ...] = ()
    kubernetes: bool = False  # check the Kubernetes control plane of every control plane too

    @classmethod
    def of(cls, controlplanes: Sequence[str], nodes: Sequence[str] = ()) -> HealthTargets:
        """``controlplanes``, and as workers the ``nodes`` that are not among them."""
        workers = tuple(node for node in dict.fromkeys(nodes) if node not in controlplanes)
        return cls(tuple(dict.fromkeys(controlplanes)), workers)


async def check_cluster(context: Reach, targets: HealthTargets) -> list[Check]:
    """Every check once: each node's (control planes first), then etcd's."""
    if not targets.controlplanes:
        return [Check("control planes", "", False, "no control-plane node to check")]
    roles = [(node, "controlplane") for node in targets.controlplanes]
    roles += [(node, "worker") for node in targets.workers]
    async with asyncio.TaskGroup() as group:
        per_node = [
            group.create_task(node_checks(context, node, role), name=f"health {node}")
            for node, role in roles
        ]
        etcd = group.create_task(etcd_checks(context, targets.controlplanes), name="health etcd")
        kubernetes = group.create_task(_kubernetes(context, targets), name="health kubernetes")
    checks = [check for task in per_node for check in task.result()] + etcd.result()
    return checks + kubernetes.result()


async def _kubernetes(context: Reach, targets: HealthTargets) -> list[Check]:
    if not targets.kubernetes:
        return []
    return await kubernetes_checks(context, targets.controlplanes)


def failed(checks: Sequence[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]


async def wait_healthy(
    context: Context,
    targets: HealthTargets,
    timeout: float,  # noqa: ASYNC109 - the last round's checks are returned, not an error
    *,
    on_round: Callable[[list[Check]], None] | None = None,
    interval: float = ROUND_INTERVAL,
) -> list[Check]:
    """Check rounds until every check passes or ``timeout`` seconds have passed; the checks of
    the last round (some failed if time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        checks = await check_cluster(context, targets)
        if on_round is not None:
            on_round(checks)
        if not failed(checks) or time.monotonic() + interval > deadline:
            return checks
        await asyncio.sleep(interval)
