"""Is a cluster healthy? Checks over the machine API of every node, shared by ``kilnctl
health``, local cluster provisioners and (later) the hub.

::

    targets = HealthTargets.of(context.endpoints, context.nodes)
    checks = await wait_healthy(context, targets, timeout=300)
    for check in checks:
        print("✓" if check.ok else "✗", check)

A check that fails carries its reason; nothing here raises for an unhealthy cluster. Client
errors of one node become a failed ``reachable`` check of that node.
"""

from kiln.machinery.health.checks import Check, node_checks
from kiln.machinery.health.cluster import HealthTargets, check_cluster, failed, wait_healthy
from kiln.machinery.health.etcd import etcd_checks

__all__ = [
    "Check",
    "HealthTargets",
    "check_cluster",
    "etcd_checks",
    "failed",
    "node_checks",
    "wait_healthy",
]
