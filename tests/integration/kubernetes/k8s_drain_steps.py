"""A node drains and uncordons around an action that takes it down: ``kilnctl reboot`` (in
container mode a reboot restarts the node's runtime in place, through the same drain as an OS
upgrade, which needs A/B slots). Run on a cluster that is up, with its kubeconfig.

1. A PodDisruptionBudget that allows no disruption of a ReplicationController's pod: the reboot
   waits, then fails after its short drain timeout, naming the pod and the budget; the node is
   uncordoned, did not reboot, the pod still runs. So does ``kilnctl apply-config`` of a
   config that needs a reboot (its drain timeout comes with it), and the config is not stored.
2. Without the budget: the reboot drains (the node's events say cordoned, evicted; kilnctl
   shows them), the pod is evicted, and once the node is back and Ready it uncordons itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from k8s_cluster import KubernetesCluster, kubectl
from local_images import PAUSE_IMAGE
from machined_cluster import eventually, machine_status
from machined_etcd import kilnctl

from kiln import process
from kiln.machined.testing import NodeProcess
from kiln.machinery.client import ClientError

T = TypeVar("T")
ANNOTATION = "kiln.dev/cordoned-for"
WORKLOAD = {
    "apiVersion": "v1",
    "kind": "ReplicationController",
    "metadata": {"name": "drained", "namespace": "default"},
    "spec": {
        "replicas": 1,
        "selector": {"app": "drained"},
        "template": {
            "metadata": {"labels": {"app": "drained"}},
            "spec": {
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "pause", "image": PAUSE_IMAGE, "imagePullPolicy": "Never"}],
            },
        },
    },
}
BUDGET = {
    "apiVersion": "policy/v1beta1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "drained-budget", "namespace": "default"},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "drained"}}},
}
BACK_WITHIN = 240.0  # etcd, the API server and the kubelet start again


async def until(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], within: float) -> T:
    return await eventually(
        probe,
        check,
        within,
        interval=1.0,
        not_yet=(process.ProcessError, ClientError),
        attempt_within=60.0,
    )


async def get(kubeconfig: Path, *what: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(await kubectl(kubeconfig, "get", *what, "-o", "json"))
    return found


def running_pods(listing: dict[str, Any], node: str) -> list[dict[str, Any]]:
    return [
        pod
        for pod in listing["items"]
        if pod["status"].get("phase") == "Running" and pod["spec"].get("nodeName") == node
    ]


def cordon(node: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the Node is unschedulable, and Kiln's annotation on it."""
    annotations = node["metadata"].get("annotations") or {}
    return bool(node["spec"].get("unschedulable")), annotations.get(ANNOTATION)


def ready(node: dict[str, Any]) -> bool:
    conditions = node["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def drain_events(cluster: KubernetesCluster, node: NodeProcess) -> list[str]:
    async with cluster.client(node) as api:
        return [event.message async for event in api.events() if event.type == "drain"]


async def check_drain_around_reboot(
    cluster: KubernetesCluster,
    node: NodeProcess,
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kubeconfig: Path,
) -> None:
    """See the module docstring; ``name`` is the node's hostname (its Node's name)."""
    selector = ["pods", "-l", "app=drained"]
    await kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(WORKLOAD))
    await kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(BUDGET))
    pods = await until(lambda: get(kubeconfig, *selector), lambda p: running_pods(p, name), 120)
    (pod,) = running_pods(pods, name)
    uid = pod["metadata"]["uid"]
    await until(
        lambda: get(kubeconfig, "pdb", "drained-budget"),
        lambda b: b.get("status", {}).get("currentHealthy") == 1,
        60,
    )
    boot = await machine_status(cluster, node)
    capsys.readouterr()

    reboot = ["reboot", "-n", node.endpoint, "--drain-timeout", "4s"]
    assert await kilnctl(cluster, node, tmp_path, *reboot) == 1
    err = capsys.readouterr().err
    assert "the reboot did not happen" in err and "cannot be drained" in err, err
    assert f"default/{pod['metadata']['name']} cannot be evicted" in err, err
    assert "drained-budget" in err, err  # the budget that refuses
    assert "the node is uncordoned" in err, err
    assert cordon(await get(kubeconfig, "node", name)) == (False, None)
    assert (await machine_status(cluster, node)).resource.metadata.created == (
        boot.resource.metadata.created
    )  # the same boot: no reboot happened
    (still,) = running_pods(await get(kubeconfig, *selector), name)
    assert still["metadata"]["uid"] == uid

    before = (node.state_dir / "config.yaml").read_bytes()
    documents = list(yaml.safe_load_all(before))
    documents[0]["machine"]["certSANs"] = ["127.0.0.1", "rebooting.example.com"]  # reboots
    changed = tmp_path / "needs-reboot.yaml"
    changed.write_text(yaml.safe_dump_all(documents))
    apply = ["apply-config", "-n", node.endpoint, "-f", str(changed), "--drain-timeout", "4s"]
    assert await kilnctl(cluster, node, tmp_path, *apply) == 1
    err = capsys.readouterr().err
    assert "cannot be drained" in err and "drained-budget" in err, err
    assert (node.state_dir / "config.yaml").read_bytes() == before
    assert cordon(await get(kubeconfig, "node", name)) == (False, None)

    await kubectl(kubeconfig, "delete", "pdb", "drained-budget")
    seen = len(await drain_events(cluster, node))
    assert await kilnctl(cluster, node, tmp_path, "reboot", "-n", node.endpoint) == 0
    shown = capsys.readouterr()
    assert f"{name}: evicted pod default/{pod['metadata']['name']}" in shown.err, shown.err
    assert "rebooting" in shown.out
    events = await until(
        lambda: drain_events(cluster, node),
        lambda e: any("uncordoned" in m for m in e[seen:]),
        BACK_WITHIN,
    )
    events = events[seen:]
    assert f"cordoned node {name} for the reboot" in events
    assert f"uncordoned node {name} (cordoned for the reboot)" in events
    back = await until(lambda: get(kubeconfig, "node", name), ready, BACK_WITHIN)
    assert cordon(back) == (False, None)
    left = await get(kubeconfig, *selector)
    assert uid not in [p["metadata"]["uid"] for p in left["items"]]  # evicted (and replaced)
