"""The Kubernetes control-plane check of one node, from its services."""

from __future__ import annotations

from kiln.machinery.api import machine_pb2
from kiln.machinery.health.kubernetes import control_plane_check


def service(
    name: str, state: str = "running", health: str = "healthy", message: str = ""
) -> machine_pb2.ServiceStatus:
    return machine_pb2.ServiceStatus(id=name, state=state, health=health, message=message)


def test_healthy_when_every_component_is_healthy() -> None:
    services = [service("etcd"), service("kube-apiserver")]
    services += [service("kube-controller-manager"), service("kube-scheduler")]
    check = control_plane_check("cp-1", services)
    assert check.ok and check.node == "cp-1"
    assert str(check) == (
        "cp-1: kubernetes control plane: apiserver ready, controller-manager and scheduler healthy"
    )


def test_each_bad_component_is_named_with_why() -> None:
    services = [
        service("kube-apiserver", health="unhealthy", message="/readyz: 500"),
        service("kube-controller-manager", state="waiting", health="", message="waiting for x"),
    ]
    check = control_plane_check("cp-1", services)
    assert not check.ok
    assert check.reason == (
        "kube-apiserver unhealthy (/readyz: 500); kube-controller-manager waiting (waiting for x); "
        "kube-scheduler is not a service of this node"
    )
