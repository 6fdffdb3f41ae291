"""The namespaces of a node's resources, each with what it holds.

A node keeps :data:`PERSISTENT` in its SQLite file (``state.db``) so that those resources
survive restarts; every other namespace lives in memory and is rebuilt at each boot.
"""

from __future__ import annotations

CONFIG = "config"
RUNTIME = "runtime"
NETWORK = "network"
ETCD = "etcd"
PERSISTENT = "persistent"

#: Every namespace of a node, with a one-line description.
NAMESPACES: dict[str, str] = {
    CONFIG: "the machine config the node runs with",
    RUNTIME: "what the node is doing: stage, readiness, services, version",
    NETWORK: "hostname and addresses as the node sees them",
    ETCD: "the members of the cluster's etcd, on control-plane nodes",
    PERSISTENT: "resources kept on disk across restarts (the node's identity)",
}

#: Namespaces stored on disk; the rest are in memory.
DURABLE_NAMESPACES: frozenset[str] = frozenset({PERSISTENT})
