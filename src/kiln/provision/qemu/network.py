"""A VM cluster's private network: a network namespace of its own (``kiln-<cluster>``)
holding a bridge, one tap device per VM and a DHCP server with one fixed lease per VM.

Nothing of it is visible outside the namespace: the VMs talk to each other on
:data:`SUBNET`, and the host reaches their APIs through the port forwarder
(:mod:`~kiln.provision.qemu.forward`), which opens its connections inside the namespace.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pyroute2 import NetNS, netns
from pyroute2.netlink.exceptions import NetlinkError

from kiln.provision.addresses import PRIVATE_SUBNET as SUBNET
from kiln.provision.addresses import private_address
from kiln.provision.errors import ProvisionError

GATEWAY = SUBNET.network_address + 1  # the bridge's own address
BRIDGE = "kb0"
LEASE_SECONDS = "12h"


def namespace(cluster: str) -> str:
    return f"kiln-{cluster}"


def tap(index: int) -> str:
    return f"kt{index}"


def node_mac(index: int) -> str:
    return f"52:54:00:6b:{index // 256:02x}:{index % 256:02x}"


def create(cluster: str, nodes: int) -> None:
    """Make (or complete) the namespace, its bridge and ``nodes`` tap devices."""
    name = namespace(cluster)
    try:
        ns = NetNS(name, flags=os.O_CREAT)
    except OSError as exc:
        raise ProvisionError(f"cannot create network namespace {name}: {exc}") from None
    try:
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        bridge = _ensure(ns, BRIDGE, kind="bridge")
        with contextlib.suppress(NetlinkError):  # present already
            ns.addr("add", index=bridge, address=str(GATEWAY), prefixlen=SUBNET.prefixlen)
        ns.link("set", index=bridge, state="up")
        for index in range(nodes):
            device = _ensure(ns, tap(index), kind="tuntap", mode="tap")
            ns.link("set", index=device, master=bridge, state="up")
    except NetlinkError as exc:
        raise ProvisionError(f"cannot set up the network of cluster {cluster}: {exc}") from None
    finally:
        ns.close()


def _ensure(ns: NetNS, ifname: str, **kind: str) -> int:
    found = ns.link_lookup(ifname=ifname)
    if not found:
        ns.link("add", ifname=ifname, **kind)
        found = ns.link_lookup(ifname=ifname)
    return int(found[0])


def exists(cluster: str) -> bool:
    return namespace(cluster) in netns.listnetns()


def remove(cluster: str) -> None:
    """Remove the namespace with everything in it (idempotent)."""
    if exists(cluster):
        netns.remove(namespace(cluster))


def in_namespace(cluster: str, argv: list[str]) -> list[str]:
    """``argv`` run inside the cluster's namespace (``ip netns exec`` execs it: the process
    keeps its pid and shows ``argv`` as its command line)."""
    return ["ip", "netns", "exec", namespace(cluster), *argv]


def dhcp_argv(cluster: str, nodes: int, lease_file: Path) -> list[str]:
    """dnsmasq serving only DHCP on the bridge, one fixed lease per node's MAC address."""
    leases = [f"--dhcp-host={node_mac(i)},{private_address(i)}" for i in range(nodes)]
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--port=0",  # no DNS
        "--bind-interfaces",
        f"--interface={BRIDGE}",
        "--except-interface=lo",
        f"--dhcp-range={SUBNET.network_address},static,{SUBNET.netmask},{LEASE_SECONDS}",
        f"--dhcp-leasefile={lease_file}",
        "--user=root",
        "--pid-file",  # none
        "--log-facility=-",
        "--log-dhcp",
        *leases,
    ]
