"""Loopback addresses for a cluster: one /24 per cluster, skipping taken ones."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from kiln.provision.addresses import allocate, port_free
from kiln.provision.errors import ProvisionError
from kiln.provision.request import ClusterRequest

BASE = ipaddress.IPv4Address("127.77.0.0")


def test_control_planes_and_workers_get_their_own_addresses() -> None:
    plans = ClusterRequest("t", controlplanes=3, workers=2).nodes()
    found = allocate(plans, BASE, ports=[50999])
    assert found == {
        "t-controlplane-1": "127.77.0.11",
        "t-controlplane-2": "127.77.0.12",
        "t-controlplane-3": "127.77.0.13",
        "t-worker-1": "127.77.0.21",
        "t-worker-2": "127.77.0.22",
    }


def test_a_listener_or_another_cluster_moves_the_cluster_to_the_next_24() -> None:
    plans = ClusterRequest("t", controlplanes=1, workers=1).nodes()
    with socket.socket() as listener:
        listener.bind(("127.77.0.21", 50999))
        listener.listen()
        assert not port_free("127.77.0.21", 50999)
        assert allocate(plans, BASE, ports=[50999])["t-worker-1"] == "127.77.1.21"
    assert allocate(plans, BASE, taken={"127.77.1.11"}, ports=[50999]) == {
        "t-controlplane-1": "127.77.0.11",
        "t-worker-1": "127.77.0.21",
    }
    assert allocate(plans, BASE, taken={"127.77.0.11"}, ports=[50999])["t-controlplane-1"] == (
        "127.77.1.11"
    )


def test_only_loopback_addresses() -> None:
    plans = ClusterRequest("t").nodes()
    with pytest.raises(ProvisionError, match="not a loopback address"):
        allocate(plans, ipaddress.IPv4Address("10.0.0.0"))
    with pytest.raises(ProvisionError, match="not a loopback address"):
        ClusterRequest("t", base_address=ipaddress.IPv4Address("192.168.1.0"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Demo"}, "not a cluster name"),
        ({"name": "a" * 41}, "not a cluster name"),
        ({"name": "x", "controlplanes": 0}, "controlplanes: 0"),
        ({"name": "x", "controlplanes": 10}, "controlplanes: 10"),
        ({"name": "x", "workers": -1}, "workers: -1"),
    ],
)
def test_requests_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ProvisionError, match=message):
        ClusterRequest(**kwargs)  # type: ignore[arg-type]


def test_node_names() -> None:
    names = [plan.name for plan in ClusterRequest("demo", controlplanes=2, workers=1).nodes()]
    assert names == ["demo-controlplane-1", "demo-controlplane-2", "demo-worker-1"]
