"""Two real Kubernetes v1.20.2 nodes on one host: a tainted control-plane node and a worker
(container-mode node daemons on addresses of their own). Both become Ready with pod CIDRs of
their own; a pod of a local image lands on the worker (the control plane is tainted) and serves;
a pod on the control-plane node reaches it by pod IP across the nodes' pod networks (the host
routes each node's pod CIDR to that node's bridge). Each kubelet keeps its pods under a cgroup
root of its own, so neither kills the other's pods, and stopping the nodes removes those cgroups
and the pods' logs."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
from pathlib import Path
from typing import Any

import pytest
from k8s_cluster import (
    READY_WITHIN,
    KubernetesCluster,
    conditions,
    healthy,
    kubectl,
    services,
    until,
    why_no_node,
)
from local_images import (
    NET_GREETING,
    NET_IMAGE,
    NET_PORT,
    PAUSE_IMAGE,
    build_images,
    why_not_buildable,
)
from machined_cluster import eventually, insecure, machine_status, maintenance_version, running
from machined_etcd import configure, kilnctl

from kiln import process
from kiln.machined.kubernetes import cgroups, cleanup, podnetwork
from kiln.machined.testing import NodeProcess

pytestmark = pytest.mark.integration

POD_SUBNET = "10.122.0.0/16"  # apart from other test clusters' pods on this host
CONTROL_PLANE, WORKER = "mn-cp", "mn-worker"
NOT_READY = "node.kubernetes.io/not-ready"


def why_skip() -> str | None:
    return why_no_node() or why_not_buildable()


def settings(document: dict[str, Any]) -> None:
    document["cluster"].setdefault("network", {})["podSubnets"] = [POD_SUBNET]
    document["machine"]["kubelet"] = {"sandboxImage": PAUSE_IMAGE}


def cgroup_dirs(root: str) -> list[Path]:
    """``root`` in every cgroup hierarchy of this host where it exists."""
    found = cgroups.hierarchies(Path("/proc/self/mountinfo").read_text())
    return [mount / root.lstrip("/") for mount, _ in found if (mount / root.lstrip("/")).is_dir()]


def pod(name: str, args: list[str], **spec: Any) -> str:
    container = {"name": name, "image": NET_IMAGE, "imagePullPolicy": "Never", "args": args}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"automountServiceAccountToken": False, "containers": [container], **spec},
        }
    )


async def join_worker(cluster: KubernetesCluster, node: NodeProcess) -> None:
    await eventually(lambda: maintenance_version(node), bool, 60)
    async with insecure(node) as api:
        await api.apply_configuration(cluster.config(WORKER, worker=True))
    await eventually(lambda: machine_status(cluster, node), running, 180, attempt_within=30)


@pytest.mark.skipif(why_skip() is not None, reason=why_skip() or "")
async def test_two_nodes_run_pods_that_reach_each_other(
    kubernetes_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = await asyncio.to_thread(build_images, tmp_path / "images", net=True)
    subnet = f"127.122.{random.randrange(1, 255)}"
    # Short directories: the kubelet's sockets under them must fit a unix socket's path.
    control = NodeProcess(tmp_path / "n1", host=f"{subnet}.1")
    worker = NodeProcess(tmp_path / "n2", host=f"{subnet}.2", trust_port=control.trust_port)
    cluster = KubernetesCluster(control.host, kubernetes_release, settings)
    roots = [
        cgroups.node_cgroup_root(name, node.state_dir)
        for node, name in ((control, CONTROL_PLANE), (worker, WORKER))
    ]
    kubeconfig = tmp_path / "kubeconfig"

    async with control, worker:
        await configure(cluster, control, CONTROL_PLANE)
        assert await kilnctl(cluster, control, tmp_path, "bootstrap") == 0, capsys.readouterr().err
        await join_worker(cluster, worker)
        for node in (control, worker):  # images there before the kubelet's first sandbox
            await until(
                lambda n=node: services(cluster, n),  # type: ignore[misc]
                lambda found: healthy(found, ("containerd",)),
                READY_WITHIN,
            )
            socket = node.state_dir / "containerd" / "containerd.sock"
            ctr = ["ctr", "--address", str(socket), "--namespace", "k8s.io"]
            for image in images:
                await process.run([*ctr, "images", "import", str(image)], timeout=60)
        assert await kilnctl(cluster, control, tmp_path, "kubeconfig", "-o", str(kubeconfig)) == 0

        async def nodes() -> dict[str, dict[str, Any]]:
            listing = json.loads(await kubectl(kubeconfig, "get", "nodes", "-o", "json"))
            return {item["metadata"]["name"]: item for item in listing["items"]}

        def all_ready(found: dict[str, dict[str, Any]]) -> bool:
            """Both Ready, and the controller-manager has seen it (the not-ready taint off)."""
            names = {CONTROL_PLANE, WORKER}
            return set(found) == names and all(
                conditions(found[n]).get("Ready") == "True"
                and NOT_READY not in [t["key"] for t in found[n]["spec"].get("taints", [])]
                for n in names
            )

        ready = await until(nodes, all_ready, READY_WITHIN)
        cidrs = {name: ipaddress.ip_network(n["spec"]["podCIDR"]) for name, n in ready.items()}
        assert cidrs[CONTROL_PLANE] != cidrs[WORKER]
        assert all(c.subnet_of(ipaddress.ip_network(POD_SUBNET)) for c in cidrs.values())
        taints = [t["key"] for t in ready[CONTROL_PLANE]["spec"].get("taints", [])]
        assert "node-role.kubernetes.io/control-plane" in taints
        assert not ready[WORKER]["spec"].get("taints")

        await kubectl(
            kubeconfig, "create", "-f", "-", stdin=pod("server", ["serve", str(NET_PORT)])
        )
        server_ip = await until(
            lambda: kubectl(kubeconfig, "get", "pod", "server", "-o", "jsonpath={.status.podIP}"),
            bool,
            180,
        )
        placed = await kubectl(
            kubeconfig, "get", "pod", "server", "-o", "jsonpath={.spec.nodeName}"
        )
        assert placed == WORKER  # the control plane's taint keeps it off there
        assert ipaddress.ip_address(server_ip) in cidrs[WORKER]
        route = await process.run(["ip", "route", "get", server_ip], timeout=30)
        assert f" dev {podnetwork.bridge_name(WORKER)} " in route.stdout.decode()  # the host's

        client = pod(
            "client",
            ["get", server_ip, str(NET_PORT)],
            restartPolicy="Never",
            nodeSelector={"kubernetes.io/hostname": CONTROL_PLANE},
            tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
        )
        await kubectl(kubeconfig, "create", "-f", "-", stdin=client)
        phase = await until(
            lambda: kubectl(kubeconfig, "get", "pod", "client", "-o", "jsonpath={.status.phase}"),
            lambda found: found in ("Succeeded", "Failed"),
            180,
        )
        finished = json.loads(await kubectl(kubeconfig, "get", "pod", "client", "-o", "json"))
        said = finished["status"]["containerStatuses"][0]["state"]["terminated"].get("message", "")
        assert phase == "Succeeded", said  # its termination message: kept in its kubelet's root
        assert said.strip() == NET_GREETING
        client_ip = await kubectl(
            kubeconfig, "get", "pod", "client", "-o", "jsonpath={.status.podIP}"
        )
        assert ipaddress.ip_address(client_ip) in cidrs[CONTROL_PLANE]

        server = json.loads(await kubectl(kubeconfig, "get", "pod", "server", "-o", "json"))
        assert server["status"]["phase"] == "Running"  # the other kubelet left it alone
        assert server["status"]["containerStatuses"][0]["restartCount"] == 0
        for root in roots:
            assert any((found / "kubepods").is_dir() for found in cgroup_dirs(root)), root
        assert healthy(await services(cluster, worker), ("containerd", "kubelet", "kube-proxy"))

        await worker.stop()  # what it leaves behind is its own only
        assert cgroup_dirs(roots[1]) == [] and cgroup_dirs(roots[0]) != []
        rules = await process.run(["iptables-save", "-t", "nat"], timeout=30)
        assert b"KUBE-SERVICES" in rules.stdout  # the control plane's kube-proxy still uses them

    for root in roots:
        assert cgroup_dirs(root) == []
    uids = {server["metadata"]["uid"], finished["metadata"]["uid"]}
    left = [d for d in cleanup.POD_LOGS.glob("*_*") if d.name.rpartition("_")[2] in uids]
    assert left == []  # the pods' logs a v1.20 kubelet keeps in the host's /var/log/pods
