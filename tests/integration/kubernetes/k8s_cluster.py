"""A Kubernetes cluster of container-mode nodes running the local v1.20.2 build, and what
the Kubernetes tests ask of it (services, kubectl)."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from k8s_release import VERSION
from machined_cluster import eventually
from machined_etcd import TEST_EXTRA_ARGS, EtcdCluster

from kiln import process
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2
from kiln.machinery.config import MachineConfig

T = TypeVar("T")


def why_no_node() -> str | None:
    """Why a Kubernetes node cannot run here (every configured node runs one), or None."""
    if os.geteuid() != 0:
        return "containerd and the kubelet need root: run the tests as root"
    if KUBECTL is None:
        return "kubectl is not installed (apt-get install kubectl)"
    for program in ("containerd", "runc", "ctr", "iptables"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install containerd runc iptables)"
    if not Path("/usr/lib/cni/bridge").exists():
        return "the CNI plugins are not installed (apt-get install containernetworking-plugins)"
    return None


def noop(document: dict[str, Any]) -> None:
    del document


CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
READY_WITHIN = 240.0  # a cold apiserver on 2 busy cores
KUBECTL = shutil.which("kubectl")


def address(second: int = 111) -> str:
    """A loopback address of a test's range (127.<second>.0.0/16)."""
    return f"127.{second}.{random.randrange(0, 256)}.{random.randrange(2, 255)}"


class KubernetesCluster(EtcdCluster):
    """Configs that run ``VERSION`` from the local build."""

    def __init__(
        self, first_address: str, release: Path, patch: Callable[[dict[str, Any]], None] = noop
    ) -> None:
        super().__init__(first_address)
        self.release = release
        self.patch = patch

    def config(self, hostname: str, *, worker: bool = False) -> bytes:
        documents = (self.configs.worker if worker else self.controlplane).to_documents()
        documents[0]["machine"].setdefault("network", {})["hostname"] = hostname
        if not worker:
            documents[0]["cluster"]["etcd"]["extraArgs"] = TEST_EXTRA_ARGS
        documents[0]["cluster"]["kubernetes"] = {
            "version": VERSION,
            "artifacts": {"source": "local", "path": str(self.release)},
        }
        self.patch(documents[0])
        return MachineConfig.from_documents(documents).to_yaml().encode()


async def services(cluster: EtcdCluster, node: NodeProcess) -> dict[str, machine_pb2.ServiceStatus]:
    async with cluster.client(node) as api:
        (listing,) = await api.service_list()
    return {service.id: service for service in listing.services}


def healthy(found: dict[str, machine_pb2.ServiceStatus], names: tuple[str, ...]) -> bool:
    return all(
        name in found and found[name].state == "running" and found[name].health == "healthy"
        for name in names
    )


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    argv = [KUBECTL, "--kubeconfig", str(kubeconfig), *args]
    given = None if stdin is None else stdin.encode()
    done = await process.run(argv, env={"HOME": str(kubeconfig.parent)}, timeout=60, input=given)
    return done.stdout.decode()


async def until(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], within: float) -> T:
    """``probe`` every second until ``check`` holds (a failing command counts as not yet)."""
    return await eventually(
        probe, check, within, interval=1.0, not_yet=(process.ProcessError,), attempt_within=60.0
    )


def conditions(node: dict[str, Any]) -> dict[str, str]:
    """A Node object's conditions: type to status."""
    return {entry["type"]: entry["status"] for entry in node["status"].get("conditions", [])}
