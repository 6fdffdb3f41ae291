"""The plan of a VM cluster's private network: fixed addresses and leases per node, the
forwarder's routes, and its refusal of malformed ones."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from kiln.provision.addresses import PRIVATE_SUBNET, private_address
from kiln.provision.qemu import forward, network


def test_every_node_has_its_own_address_mac_and_lease() -> None:
    addresses = [private_address(i) for i in range(3)]
    assert addresses == ["10.5.0.2", "10.5.0.3", "10.5.0.4"]
    assert all(ipaddress.ip_address(a) in PRIVATE_SUBNET for a in addresses)
    macs = {network.node_mac(i) for i in range(300)}
    assert len(macs) == 300
    argv = network.dhcp_argv("demo", 3, Path("/x/leases"))
    leases = [a for a in argv if a.startswith("--dhcp-host=")]
    assert leases == [f"--dhcp-host={network.node_mac(i)},{addresses[i]}" for i in range(3)]
    assert "--port=0" in argv and f"--interface={network.BRIDGE}" in argv


def test_commands_run_inside_the_cluster_namespace() -> None:
    assert network.in_namespace("demo", ["dnsmasq"]) == [
        "ip", "netns", "exec", "kiln-demo", "dnsmasq",
    ]  # fmt: skip


def test_forwarder_routes_are_host_port_pairs() -> None:
    assert forward.split("127.66.0.11:50000") == ("127.66.0.11", 50000)
    for bad in ("127.66.0.11", ":50000", "127.66.0.11:http"):
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            forward.split(bad)
    assert forward.main(["kiln-demo", "127.0.0.1=10.5.0.2:50000"]) == 2
    assert forward.main(["kiln-demo", "127.0.0.1:50000"]) == 2
    routes, back = forward.parse_routes(
        ["127.66.0.11:50000=10.5.0.2:50000", "back:10.5.0.1:8443=127.0.0.1:8443"]
    )
    assert routes == {("127.66.0.11", 50000): ("10.5.0.2", 50000)}
    assert back == {("10.5.0.1", 8443): ("127.0.0.1", 8443)}
