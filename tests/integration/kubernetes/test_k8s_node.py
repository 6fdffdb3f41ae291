"""A real Kubernetes v1.20.2 node on a container-mode control-plane node (untainted):
containerd, the kubelet (TLS bootstrap with the cluster's token, its CSR approved by the bindings
the node applies) and kube-proxy as the node's services; the Node Ready once the node wrote the
CNI config for its pod CIDR; a pod of a locally built image runs to completion and its logs are
readable; the cluster manifests (CoreDNS with a configured image, inline manifests) applied,
and an inline manifest taken out of the config deleted from the cluster;
``kilnctl upgrade-k8s`` to the next patch (the same binaries served as v1.20.3) restarts the
control plane, then the kubelet and kube-proxy, the pods still there; the node drains before a
reboot (a PodDisruptionBudget refuses it in time) and uncordons itself after
(:mod:`k8s_drain_steps`); stopping the node leaves no container and no mount behind."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from k8s_cluster import (
    READY_WITHIN,
    KubernetesCluster,
    address,
    conditions,
    healthy,
    kubectl,
    until,
    why_no_node,
)
from k8s_cluster import services as list_services
from k8s_drain_steps import check_drain_around_reboot
from k8s_release import VERSION
from local_images import HELLO_IMAGE, HELLO_OUTPUT, PAUSE_IMAGE, build_images, why_not_buildable
from machined_etcd import configure, kilnctl

from kiln import process
from kiln.machined.kubernetes import inventory
from kiln.machined.testing import NodeProcess

pytestmark = pytest.mark.integration

NODE_SERVICES = ("containerd", "kubelet", "kube-proxy")
UPGRADED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")
NEXT = "v1.20.3"
SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: kiln-settings, namespace: kube-system}
data: {greeting: hello}
"""
REPLACEMENT = SETTINGS.replace("kiln-settings", "kiln-replacement")
MANAGED = f"{inventory.MANAGED_LABEL}={inventory.MANAGER}"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "containers": [{"name": "hello", "image": HELLO_IMAGE, "imagePullPolicy": "Never"}],
    },
}


def why_skip() -> str | None:
    return why_no_node() or why_not_buildable()


def untainted(document: dict[str, Any]) -> None:
    document["cluster"]["allowSchedulingOnControlPlanes"] = True
    document["cluster"]["coreDNS"] = {"image": PAUSE_IMAGE}  # any image that runs here
    document["cluster"]["inlineManifests"] = [{"name": "settings", "contents": SETTINGS}]
    document["machine"]["kubelet"] = {"sandboxImage": PAUSE_IMAGE}


def with_next_patch(release: Path, work: Path) -> Path:
    """A release directory serving ``VERSION`` and, as :data:`NEXT`, the same binaries."""
    base = work / "release"
    (base / NEXT / "bin" / "linux").mkdir(parents=True)
    (base / VERSION).symlink_to(release / VERSION)
    (base / NEXT / "bin" / "linux" / "amd64").symlink_to(release / VERSION / "bin/linux/amd64")
    return base


@pytest.mark.skipif(why_skip() is not None, reason=why_skip() or "")
async def test_node_runs_a_pod(
    kubernetes_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = await asyncio.to_thread(build_images, tmp_path / "images")
    node = NodeProcess(tmp_path / "cp-1", host=address(81))
    release = with_next_patch(kubernetes_release, tmp_path)
    cluster = KubernetesCluster(node.host, release, untainted)
    socket = node.state_dir / "containerd" / "containerd.sock"

    async def services() -> dict[str, Any]:
        return await list_services(cluster, node)

    async with node:
        await configure(cluster, node, "cp-1")
        assert await kilnctl(cluster, node, tmp_path, "bootstrap") == 0, capsys.readouterr().err
        await until(services, lambda found: healthy(found, ("containerd",)), READY_WITHIN)
        ctr = ["ctr", "--address", str(socket), "--namespace", "k8s.io"]
        for image in images:  # before the kubelet makes its first pod sandbox
            await process.run([*ctr, "images", "import", str(image)], timeout=60)
        kubeconfig = tmp_path / "kubeconfig"
        assert await kilnctl(cluster, node, tmp_path, "kubeconfig", "-o", str(kubeconfig)) == 0

        async def node_object() -> dict[str, Any]:
            found: dict[str, Any] = json.loads(
                await kubectl(kubeconfig, "get", "node", "cp-1", "-o", "json")
            )
            return found

        ready = await until(node_object, lambda n: conditions(n).get("Ready") == "True", 240)
        cidr = ready["spec"]["podCIDR"]
        assert ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
        assert not ready["spec"].get("taints")  # allowSchedulingOnControlPlanes
        roles = await until(
            lambda: kubectl(
                kubeconfig,
                "get",
                "nodes",
                "-l",
                "node-role.kubernetes.io/control-plane",
                "-o",
                "name",
            ),
            bool,
            60,
        )
        assert roles.split() == ["node/cp-1"]
        assert {"type": "InternalIP", "address": node.host} in ready["status"]["addresses"]
        conflist = json.loads((node.state_dir / "cni" / "net.d" / "10-kiln.conflist").read_text())
        ipam = conflist["plugins"][0]["ipam"]
        assert ipam["ranges"] == [[{"subnet": cidr}]]

        csrs = json.loads(await kubectl(kubeconfig, "get", "csr", "-o", "json"))["items"]
        kubelet = [c for c in csrs if c["spec"]["username"].startswith("system:bootstrap:")]
        assert kubelet and all(
            any(cond["type"] == "Approved" for cond in c["status"]["conditions"]) for c in kubelet
        )

        await kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(POD))
        phase = await until(
            lambda: kubectl(kubeconfig, "get", "pod", "hello", "-o", "jsonpath={.status.phase}"),
            lambda found: found in ("Succeeded", "Failed"),
            120,
        )
        assert phase == "Succeeded"
        pod_ip = await kubectl(kubeconfig, "get", "pod", "hello", "-o", "jsonpath={.status.podIP}")
        assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(cidr)
        assert (await kubectl(kubeconfig, "logs", "hello")).strip() == HELLO_OUTPUT

        found = await until(services, lambda f: healthy(f, NODE_SERVICES), 60)
        assert found["kube-proxy"].health == "healthy"
        rules = await process.run(["iptables-save", "-t", "nat"], timeout=30)
        assert b"KUBE-SERVICES" in rules.stdout  # kube-proxy programs the host's iptables

        image = await until(
            lambda: kubectl(
                kubeconfig,
                "-n",
                "kube-system",
                "get",
                "deployment",
                "coredns",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ),
            bool,
            60,
        )
        assert image == PAUSE_IMAGE
        greeting = await kubectl(
            kubeconfig,
            "-n",
            "kube-system",
            "get",
            "configmap",
            "kiln-settings",
            "-o",
            "jsonpath={.data.greeting}",
        )
        assert greeting == "hello"

        await prune_and_check(cluster, node, kubeconfig)

        health = ["health", "--kubernetes", "-n", node.endpoint, "--wait-timeout", "60s"]
        assert await kilnctl(cluster, node, tmp_path, *health) == 0, capsys.readouterr().err
        assert f"{node.endpoint}: kubernetes nodes: cp-1 Ready" in capsys.readouterr().out

        await upgrade_and_check(cluster, node, tmp_path, capsys, kubeconfig)
        await check_drain_around_reboot(cluster, node, "cp-1", tmp_path, capsys, kubeconfig)

    mounts = await asyncio.to_thread(Path("/proc/self/mountinfo").read_text)
    assert str(node.state_dir) not in mounts


async def prune_and_check(cluster: KubernetesCluster, node: NodeProcess, kubeconfig: Path) -> None:
    """An inline manifest taken out of a config applied live is deleted from the cluster, the
    one put in its place applied; the other objects Kiln applied stay."""

    async def managed() -> list[str]:
        listing = await kubectl(
            kubeconfig, "-n", "kube-system", "get", "configmaps", "-l", MANAGED, "-o", "name"
        )
        return listing.split()

    assert {"configmap/kiln-settings", "configmap/coredns"} <= set(await managed())

    def replaced(document: dict[str, Any]) -> None:
        untainted(document)
        document["cluster"]["inlineManifests"] = [{"name": "other", "contents": REPLACEMENT}]

    cluster.patch = replaced
    try:
        async with cluster.client(node) as api:
            await api.apply_configuration(cluster.config("cp-1"))
    finally:
        cluster.patch = untainted
    after = await until(
        managed,
        lambda found: (
            "configmap/kiln-settings" not in found and "configmap/kiln-replacement" in found
        ),
        120,
    )
    assert "configmap/coredns" in after
    deployments = await kubectl(kubeconfig, "-n", "kube-system", "get", "deployments", "-o", "name")
    assert "deployment.apps/coredns" in deployments.split()


async def upgrade_and_check(
    cluster: KubernetesCluster,
    node: NodeProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kubeconfig: Path,
) -> None:
    """upgrade-k8s: refused targets change nothing; a dry run shows the steps; the upgrade
    restarts every service but containerd on the new version; a second run has nothing to do."""
    upgrade = ["upgrade-k8s", "-n", node.endpoint, "--to"]
    for refused, why in (("v1.20.1", "downgrade"), ("v1.32.0", "one minor release at a time")):
        assert await kilnctl(cluster, node, tmp_path, *upgrade, refused) == 1
        assert why in capsys.readouterr().err
    assert await kilnctl(cluster, node, tmp_path, *upgrade, NEXT, "--dry-run") == 0
    planned = capsys.readouterr().out
    assert f"would upgrade {node.endpoint}: control plane" in planned
    assert f"would upgrade {node.endpoint}: kubelet" in planned
    before = await list_services(cluster, node)
    assert await kilnctl(cluster, node, tmp_path, *upgrade, NEXT) == 0, capsys.readouterr().err
    assert f"upgraded to Kubernetes {NEXT}" in capsys.readouterr().out
    after = await list_services(cluster, node)
    assert healthy(after, (*UPGRADED, "containerd"))
    assert all(after[name].pid != before[name].pid for name in UPGRADED)
    assert after["containerd"].pid == before["containerd"].pid  # pods keep running
    current = node.state_dir / "kubernetes" / "artifacts" / "current.json"
    assert json.loads(current.read_text()) == {"version": NEXT}
    assert await kilnctl(cluster, node, tmp_path, *upgrade, NEXT) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert "hello" in await kubectl(kubeconfig, "get", "pods", "-o", "name")
