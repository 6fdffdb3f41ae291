"""Distinct loopback addresses for a cluster's nodes, one /24 per cluster.

Node ``k`` of a cluster whose /24 is ``127.66.n.0`` gets ``127.66.n.(10+k)`` as a control plane
or ``127.66.n.(20+k)`` as a worker; every node's daemon listens on its own address with the
standard ports, as machines on a network would. A /24 is taken when any of its addresses is
recorded by another cluster under the same state root or has a listener on one of those ports;
the next /24 is tried then.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterable, Sequence

from kiln.machinery.kilnconfig import API_PORT
from kiln.provision.errors import ProvisionError
from kiln.provision.request import NodePlan

#: A VM cluster's private network (inside its own network namespace, so every cluster can
#: use the same one): the bridge is .1, node ``i`` (0-based, control planes first) is .(2+i).
PRIVATE_SUBNET = ipaddress.IPv4Network("10.5.0.0/24")
TRUST_PORT = 50001  # where control planes sign workers' API certificates
PORTS = (API_PORT, TRUST_PORT, 2379, 2380, 6443)  # + etcd client and peer, Kubernetes API
SUBNETS_TRIED = 256


def port_free(address: str, port: int) -> bool:
    """Whether nothing listens on ``address:port`` (binding it as a server would)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def address_free(address: str, ports: Sequence[int] = PORTS) -> bool:
    return all(port_free(address, port) for port in ports)


def allocate(
    plans: Sequence[NodePlan],
    base: ipaddress.IPv4Address,
    *,
    taken: Iterable[str] = (),
    ports: Sequence[int] = PORTS,
) -> dict[str, str]:
    """Node name → address, all in the first free /24 from ``base`` on; ProvisionError if none
    of :data:`SUBNETS_TRIED` is free."""
    if not base.is_loopback:
        raise ProvisionError(f"{base} is not a loopback address")
    recorded = set(taken)
    network = ipaddress.IPv4Network(f"{base}/24", strict=False)
    for _ in range(SUBNETS_TRIED):
        addresses = {plan.name: str(network.network_address + plan.offset) for plan in plans}
        if not recorded & set(addresses.values()) and all(
            address_free(address, ports) for address in addresses.values()
        ):
            return addresses
        following = _next(network)
        if following is None:
            break
        network = following
    raise ProvisionError(
        f"no free /24 of loopback addresses from {base} on: every one tried is used by another "
        "cluster or has listeners on the ports a node needs"
    )


def _next(network: ipaddress.IPv4Network) -> ipaddress.IPv4Network | None:
    with contextlib.suppress(ValueError):
        following = ipaddress.IPv4Network((int(network.network_address) + 256, 24))
        if following.network_address.is_loopback:
            return following
    return None


def private_address(index: int) -> str:
    """The private address of a VM cluster's ``index``-th node (0-based)."""
    return str(PRIVATE_SUBNET.network_address + 2 + index)
