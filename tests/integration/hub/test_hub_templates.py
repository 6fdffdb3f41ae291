"""Clusters from templates on a real hub with three real container-mode nodes that joined it
through their outbound connection: a sync makes a one-control-plane cluster with a healthy
etcd; a second control plane joins etcd and a worker joins the cluster, even though the hub
is killed halfway and the machines are away meanwhile; a smaller control-plane set resets a
machine back to maintenance mode and the free pool (same UUID); a delete frees every
machine. An invalid template is refused with every problem and changes nothing; a reader
cannot sync; mutating calls are audited."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import grpc
import pytest
from hub_helpers import (
    cluster_of,
    code_of,
    kiln_hub_run,
    module_hub,
    nodes_fixture,
    until,
    wait_machines,
)

from kiln.hub.cli.connection import connect_clusters
from kiln.hub.templates.load import load_template
from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2, hubcluster_pb2

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HUB_HOST = "127.80.0.1"
NODE_HOSTS = ("127.80.1.1", "127.80.1.2", "127.80.1.3")
WAIT = "150s"
FREE = "pool=templates,kiln.dev/stage=maintenance,kiln.dev/connected=true,!kiln.dev/cluster"
TEMPLATE = """\
kind: Cluster
name: edge
patches:
  - name: labels
    inline: {{machine: {{kubelet: {{nodeLabels: {{site: lab}}}}}}}}
---
kind: ControlPlane
machineSelector: {{selector: "pool=templates", count: {planes}}}
"""
WORKERS = """---
kind: Workers
machineSelector: {selector: "pool=templates", count: 1}
updateStrategy: {maxParallelism: 1}
patches:
  - name: tier
    inline: {machine: {kubelet: {nodeLabels: {tier: worker}}}}
"""


hub = module_hub(HUB_HOST)  # on SQLite, then on PostgreSQL
# Three nodes in maintenance mode joined to the hub, in the pool the template selects.
nodes = nodes_fixture(NODE_HOSTS, "templates")


@pytest.fixture
def uuids(nodes: dict[str, NodeProcess]) -> list[str]:
    return sorted(nodes)


def template_text(planes: int, workers: bool = False) -> str:
    return TEMPLATE.format(planes=planes) + (WORKERS if workers else "")


def template_file(tmp_path: Path, planes: int, workers: bool = False) -> Path:
    path = tmp_path / f"edge-{planes}-{workers}.yaml"
    path.write_text(template_text(planes, workers))
    return path


async def cluster(hub: HubProcess, name: str = "edge") -> tuple[dict[str, Any], dict[str, Any]]:
    return await cluster_of(hub, name)


async def allocated(hub: HubProcess) -> set[str]:
    _, status = await cluster(hub)
    return {m["uuid"] for m in status["machines"] if not m["releasing"]}


def sync_and_wait(hub: HubProcess, path: Path) -> str:
    synced = kiln_hub_run(hub, "template", "sync", "-f", str(path), "--wait", "--timeout", WAIT)
    assert synced.returncode == 0, synced.stderr
    assert "cluster edge is healthy" in synced.stdout
    shown = kiln_hub_run(hub, "template", "status", "edge")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


async def test_an_invalid_template_is_refused_with_every_problem(
    hub: HubProcess, uuids: list[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: Cluster\nname: Edge\n"
        "patches: [{inline: [{op: remove, path: /machine/nothing}]}]\n---\n"
        "kind: ControlPlane\nmachineSelector: {selector: 'pool in (', count: 1}\n---\n"
        "kind: Workers\nmachines: [x, x]\n"
    )
    for command in ("validate", "sync"):
        refused = kiln_hub_run(hub, "template", command, "-f", str(bad))
        assert refused.returncode == 1
        lines = refused.stderr.splitlines()
        assert all(line.startswith(f"error: {bad}: document ") for line in lines), lines
        assert any("document 1 (Cluster): name:" in line for line in lines)
        assert any("document 2 (ControlPlane): machineSelector.selector:" in line for line in lines)
        assert any(
            "document 3 (Workers): machines: a machine is listed twice" in line for line in lines
        )
        assert len(lines) == 3, lines
    # The hub checks what it is sent the same way (a client that skipped the checks).
    async with connect_clusters(hub.access()) as api:
        with pytest.raises(grpc.aio.AioRpcError) as sent:
            request = hubcluster_pb2.SyncClusterRequest(template=bad.read_text())
            await api.SyncCluster(request)
        assert code_of(sent.value) is grpc.StatusCode.INVALID_ARGUMENT
        assert len((sent.value.details() or "").splitlines()) == 3
        assert not (await api.ListClusters(hub_pb2.ListRequest())).resources


async def test_a_reader_cannot_sync_and_the_refusal_is_audited(
    hub: HubProcess, uuids: list[str], tmp_path: Path
) -> None:
    async with hub.client() as api:
        reader = (await api.CreateApiKey(hub_pb2.CreateApiKeyRequest(role="reader"))).key
    refused = kiln_hub_run(
        hub, "template", "sync", "-f", str(template_file(tmp_path, 1)), key=reader
    )
    assert refused.returncode == 1
    assert "needs role operator" in refused.stderr and "PERMISSION_DENIED" in refused.stderr
    diff = kiln_hub_run(hub, "template", "diff", "-f", str(template_file(tmp_path, 1)), key=reader)
    assert diff.returncode == 0, diff.stderr
    assert "does not exist: sync creates it" in diff.stdout and "+kind: Cluster" in diff.stdout
    async with hub.client() as api:
        entries = [
            json.loads(e)["spec"]
            for e in (await api.ListAudit(hub_pb2.ListAuditRequest())).resources
        ]
    syncs = [e for e in entries if e["method"].endswith("SyncCluster")]
    assert [e["result"] for e in syncs] == ["INVALID_ARGUMENT", "PERMISSION_DENIED"]
    assert "(reader)" in syncs[-1]["who"]


async def test_a_synced_cluster_gets_a_healthy_etcd(
    hub: HubProcess, uuids: list[str], tmp_path: Path
) -> None:
    output = sync_and_wait(hub, template_file(tmp_path, 1))
    assert "cluster edge: running, healthy; 1/1 machines running" in output
    _, status = await cluster(hub)
    (machine,) = status["machines"]
    assert machine["uuid"] in uuids and machine["stage"] == "running"
    assert status["etcdMembers"] == [machine["hostname"]]
    assert status["endpoint"] == f"https://{machine['hostname']}:6443"
    assert status["healthy"] and all(check["ok"] for check in status["checks"])
    listed = kiln_hub_run(hub, "template", "list")
    assert listed.returncode == 0, listed.stderr
    (row,) = listed.stdout.splitlines()[1:]
    assert row.split() == ["edge", "running", "1/1", "true"]


async def test_a_control_plane_and_a_worker_join_across_a_hub_restart_while_they_are_away(
    hub: HubProcess, nodes: dict[str, NodeProcess], uuids: list[str], tmp_path: Path
) -> None:
    free = set(uuids) - await allocated(hub)
    synced = kiln_hub_run(hub, "template", "sync", "-f", str(template_file(tmp_path, 2, True)))
    assert synced.returncode == 0, synced.stderr
    await hub.kill()  # kill -9 while the new machines are being configured
    away = [nodes[uuid] for uuid in free]
    await asyncio.gather(*(node.stop() for node in away))  # and they go away meanwhile
    await hub.start()
    await asyncio.gather(*(node.start() for node in away))  # back: the hub carries on
    waited = kiln_hub_run(hub, "template", "status", "edge", "--wait", "--timeout", WAIT)
    assert waited.returncode == 0, waited.stderr
    _, status = await cluster(hub)
    assert {m["uuid"] for m in status["machines"]} == set(uuids)
    types = sorted(m["machineType"] for m in status["machines"])
    assert types == ["controlplane", "controlplane", "worker"]
    planes = [m["hostname"] for m in status["machines"] if m["machineType"] == "controlplane"]
    assert sorted(status["etcdMembers"]) == sorted(planes)
    assert any(c["name"] == "machine type" and c["reason"] == "worker" for c in status["checks"])
    await wait_machines(hub, 3, "kiln.dev/cluster=edge")  # the inventory tells who is where
    exported = kiln_hub_run(hub, "template", "export", "edge")
    assert exported.returncode == 0, exported.stderr
    sent = load_template(template_text(2, True), "sent")
    assert load_template(exported.stdout, "exported") == sent


async def test_a_smaller_set_resets_a_machine_back_to_the_free_pool(
    hub: HubProcess, uuids: list[str], tmp_path: Path
) -> None:
    before = await allocated(hub)
    (bootstrap,) = [m["uuid"] for m in (await cluster(hub))[1]["machines"] if m["bootstrap"]]
    sync_and_wait(hub, template_file(tmp_path, 1, True))

    async def released() -> bool:
        _, status = await cluster(hub)
        return (
            len(await allocated(hub)) == 2
            and len(status["machines"]) == 2
            and len(status["etcdMembers"]) == 1  # the health check after the leave has run
            and bool(status["healthy"])
        )

    await until(released, within=60.0)
    (freed,) = before - await allocated(hub)
    assert freed != bootstrap  # etcd's first member and the cluster's endpoint stay
    free = await wait_machines(hub, 1, FREE)
    assert free[0]["metadata"]["id"] == freed  # the same machine, in maintenance mode again


async def test_deleting_the_cluster_frees_every_machine(hub: HubProcess, uuids: list[str]) -> None:
    deleted = kiln_hub_run(hub, "template", "delete", "edge", "--wait", "--timeout", WAIT)
    assert deleted.returncode == 0, deleted.stderr
    assert "released and free" in deleted.stdout
    free = await wait_machines(hub, 3, FREE)
    assert sorted(m["metadata"]["id"] for m in free) == uuids
    async with connect_clusters(hub.access()) as api:
        assert not (await api.ListClusters(hub_pb2.ListRequest())).resources
    async with hub.client() as api:
        entries = [
            json.loads(e)["spec"]
            for e in (await api.ListAudit(hub_pb2.ListAuditRequest())).resources
        ]
    done = [(re.split(r"[/.]", e["method"])[-1], e["target"], e["result"]) for e in entries]
    assert ("DeleteCluster", "edge", "OK") in done
    assert done.count(("SyncCluster", "edge", "OK")) == 3
