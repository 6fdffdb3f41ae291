"""The default pod network, needing no container image: a CNI ``bridge`` with ``host-local``
addresses from the node's pod CIDR (``spec.podCIDR(s)`` of its Node object, allocated by
kube-controller-manager), ``portmap`` for host ports, and a route to every other node's pod
CIDR through that node's address.

The bridge is named after the node (``kiln`` + a digest of its name), so container-mode nodes
on one host have one bridge each; their pod CIDRs are then reachable through those bridges and
need no routes (a node whose address is one of this host's gets none).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import process
from kiln.machined.kubernetes.errors import KubernetesError

CONFLIST_NAME = "10-kiln.conflist"
NETWORK_NAME = "kiln"


def bridge_name(node: str) -> str:
    """A Linux interface name (at most 15 characters) for ``node``'s bridge."""
    return "kiln" + hashlib.sha256(node.encode()).hexdigest()[:8]


def conflist(node: str, pod_cidrs: Sequence[str], data_dir: Path) -> dict[str, Any]:
    """The CNI network config list of ``node`` for its pod CIDRs."""
    if not pod_cidrs:
        raise KubernetesError(f"node {node} has no pod CIDR yet")
    ranges = [[{"subnet": str(ipaddress.ip_network(cidr))}] for cidr in pod_cidrs]
    return {
        "cniVersion": "0.4.0",
        "name": NETWORK_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge_name(node),
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": ranges,
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(data_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def write_conflist(conf_dir: Path, config: Mapping[str, Any]) -> bool:
    """Write ``config`` unless it is already there; whether it changed. Blocking."""
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    target = conf_dir / CONFLIST_NAME
    try:
        if target.exists() and target.read_text() == text:
            return False
        conf_dir.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{CONFLIST_NAME}.tmp")
        temp.write_text(text)
        temp.replace(target)  # containerd must never read half a file
    except OSError as exc:
        raise KubernetesError(f"cannot write the CNI config in {conf_dir}: {exc}") from exc
    return True


@dataclass(frozen=True)
class NodeRoute:
    """A pod CIDR of another node and the address it is reached through."""

    cidr: str
    via: str


def pod_cidrs(node: Mapping[str, Any]) -> list[str]:
    """The pod CIDRs of a Node object (``spec.podCIDRs``, or the older ``spec.podCIDR``)."""
    spec = node.get("spec") or {}
    found = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    return [str(cidr) for cidr in found]


def internal_ip(node: Mapping[str, Any]) -> str | None:
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") == "InternalIP":
            return str(entry.get("address"))
    return None


def needs_published_address(node: Mapping[str, Any], address: str) -> bool:
    """Whether the node daemon must publish ``address`` as the Node's InternalIP itself: the
    kubelet refuses a loopback node IP (container mode on loopback addresses) and then
    reports no address, so the API server could not reach it (logs, exec)."""
    return ipaddress.ip_address(address).is_loopback and internal_ip(node) != address


def address_patch(node: str, address: str) -> dict[str, Any]:
    """A strategic merge patch of a Node's status giving it ``address`` and its host name."""
    addresses = [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": node}]
    return {"status": {"addresses": addresses}}


def routes(own: str, nodes: Iterable[Mapping[str, Any]], local: Iterable[str]) -> list[NodeRoute]:
    """The routes ``own`` needs to the pod CIDRs of the other ``nodes`` (Node objects); none to
    a node at one of the ``local`` addresses or a loopback one (it is on this host)."""
    here = set(local)
    found: list[NodeRoute] = []
    for node in nodes:
        name = (node.get("metadata") or {}).get("name")
        via = internal_ip(node)
        if name == own or via is None or via in here or ipaddress.ip_address(via).is_loopback:
            continue
        found.extend(
            NodeRoute(cidr, via)
            for cidr in pod_cidrs(node)
            if ipaddress.ip_network(cidr).version == ipaddress.ip_address(via).version
        )
    return found


async def apply_routes(wanted: Iterable[NodeRoute]) -> None:
    """Add or update a route for every one of ``wanted`` (routes are never removed: a node
    that left keeps its route until the next boot)."""
    for route in wanted:
        argv = ["ip", "route", "replace", route.cidr, "via", route.via, "proto", "static"]
        try:
            await process.run(argv, timeout=10.0)
        except process.ProcessError as exc:
            raise KubernetesError(f"cannot route {route.cidr} via {route.via}: {exc}") from exc
