"""Rolling upgrades of a template's cluster on a real hub with four real container-mode nodes
joined through their outbound link (two control planes, two workers): a new Kubernetes
version reaches the control planes one at a time, then the workers one at a time, each
machine once, even though the hub is killed (-9) halfway; a locked machine is passed over and
catches up once unlocked; a Kiln upgrade the first machine refuses (container-mode nodes have
no A/B slots) pauses the rollout with its reason, touching no other machine.

What each node applied is read from its own log ("config applied (...)"), not from the hub.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hub_helpers import cluster_of, kiln_hub_run, module_hub, nodes_fixture, until

from kiln.hub.resources.machine_status import LOCKED_LABEL
from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HUB_HOST = "127.93.0.1"
NODE_HOSTS = ("127.93.1.1", "127.93.1.2", "127.93.1.3", "127.93.1.4")
WAIT = "150s"
TEMPLATE = """\
kind: Cluster
name: roll
kubernetes: {{version: {kubernetes}}}
{kiln}---
kind: ControlPlane
machineSelector: {{selector: "pool=rollout", count: 2}}
updateStrategy: {{maxParallelism: 2}}
---
kind: Workers
machineSelector: {{selector: "pool=rollout", count: 2}}
updateStrategy: {{maxParallelism: {workers}}}
"""
APPLIED = re.compile(r"^(\S+ \S+) INFO \S+: config applied \(", re.MULTILINE)


hub = module_hub(HUB_HOST)
nodes = nodes_fixture(NODE_HOSTS, "rollout")


def template(
    tmp_path: Path, kubernetes: str, workers: int = 1, kiln: dict[str, str] | None = None
) -> Path:
    path = tmp_path / f"roll-{kubernetes}-{workers}-{bool(kiln)}.yaml"
    kiln_line = f"kiln: {json.dumps(kiln)}\n" if kiln else ""
    path.write_text(TEMPLATE.format(kubernetes=kubernetes, workers=workers, kiln=kiln_line))
    return path


def applied(node: NodeProcess) -> list[datetime]:
    """When the node applied a config while running (its own log)."""
    return [
        datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f") for stamp in APPLIED.findall(node.output())
    ]


async def roles(hub: HubProcess) -> tuple[list[str], list[str]]:
    _, status = await cluster_of(hub, "roll")
    planes = sorted(m["uuid"] for m in status["machines"] if m["machineType"] == "controlplane")
    workers = sorted(m["uuid"] for m in status["machines"] if m["machineType"] == "worker")
    return planes, workers


async def messages(hub: HubProcess) -> dict[str, str]:
    _, status = await cluster_of(hub, "roll")
    return {m["uuid"]: m["message"] for m in status["machines"]}


async def run(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``kiln-hub ARGS`` while this loop goes on copying the nodes' output to their logs."""
    return await asyncio.to_thread(kiln_hub_run, hub, *args)


async def wait_rollout(hub: HubProcess) -> None:
    waited = await run(hub, "template", "status", "roll", "--wait", "--timeout", WAIT)
    assert waited.returncode == 0, waited.stderr


async def label(hub: HubProcess, uuid: str, **change: Any) -> None:
    async with hub.client() as api:
        await api.LabelMachine(hub_pb2.LabelMachineRequest(id=uuid, **change))


def seconds(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()


async def test_the_cluster_is_made(
    hub: HubProcess, nodes: dict[str, NodeProcess], tmp_path: Path
) -> None:
    synced = await run(hub, "template", "sync", "-f", str(template(tmp_path, "v1.32.0")), "--wait")
    assert synced.returncode == 0, synced.stderr
    planes, workers = await roles(hub)
    assert len(planes) == 2 and len(workers) == 2
    assert all(applied(node) == [] for node in nodes.values())  # configured in maintenance


async def test_a_kubernetes_version_rolls_out_in_order_once_each_across_a_hub_kill(
    hub: HubProcess, nodes: dict[str, NodeProcess], tmp_path: Path
) -> None:
    planes, workers = await roles(hub)
    synced = await run(hub, "template", "sync", "-f", str(template(tmp_path, "v1.32.1")))
    assert synced.returncode == 0, synced.stderr

    async def first_applied() -> bool:
        return any(applied(node) for node in nodes.values())

    await until(first_applied, within=60.0)
    await hub.kill()  # kill -9 once the first machine got its new config
    started = [uuid for uuid, node in nodes.items() if applied(node)]
    assert len(started) == 1 and started[0] in planes  # a control plane, alone
    await hub.start()
    await wait_rollout(hub)
    times = {uuid: applied(node) for uuid, node in nodes.items()}
    assert all(len(found) == 1 for found in times.values()), times  # each exactly once
    (p1, p2), (w1, w2) = sorted(times[u][0] for u in planes), sorted(times[u][0] for u in workers)
    # One at a time, each running again before the next (2 s after a live apply).
    assert min(seconds(p1, p2), seconds(p2, w1), seconds(w1, w2)) >= 1.9, times
    _, status = await cluster_of(hub, "roll")
    assert status["phase"] == "running" and status["healthy"] and not status["rollout"]


async def test_a_locked_machine_is_skipped_and_catches_up_once_unlocked(
    hub: HubProcess, nodes: dict[str, NodeProcess], tmp_path: Path
) -> None:
    planes, workers = await roles(hub)
    locked = planes[0]
    await label(hub, locked, set={LOCKED_LABEL: "maintenance-window"})
    before = {uuid: len(applied(node)) for uuid, node in nodes.items()}
    path = template(tmp_path, "v1.32.2", workers=2)
    synced = await run(hub, "template", "sync", "-f", str(path))
    assert synced.returncode == 0, synced.stderr

    async def others_done() -> bool:
        return all(len(applied(nodes[u])) == before[u] + 1 for u in [planes[1], *workers])

    await until(others_done, within=90.0)  # a locked control plane holds nobody up
    await wait_rollout(hub)
    assert len(applied(nodes[locked])) == before[locked]  # it kept its old config
    assert (await messages(hub))[locked] == "locked: skipped by the rollout"
    w1, w2 = (applied(nodes[u])[-1] for u in workers)
    assert abs(seconds(w1, w2)) < 1.5  # maxParallelism 2: the workers went together

    await label(hub, locked, remove=[LOCKED_LABEL])

    async def caught_up() -> bool:
        return len(applied(nodes[locked])) == before[locked] + 1

    await until(caught_up, within=60.0)
    await wait_rollout(hub)
    assert all(len(applied(node)) == before[u] + 1 for u, node in nodes.items())


async def test_a_refused_kiln_upgrade_pauses_the_rollout_and_says_why(
    hub: HubProcess, nodes: dict[str, NodeProcess], tmp_path: Path
) -> None:
    image = tmp_path / "image"
    image.mkdir()
    (image / "manifest.json").write_text(json.dumps({"version": "9.9.9"}))
    for name in ("manifest.sig", "vmlinuz", "initramfs", "rootfs.squashfs"):
        (image / name).write_bytes(b"not a real image: the node refuses before it reads one")
    planes, workers = await roles(hub)
    before = {uuid: len(applied(node)) for uuid, node in nodes.items()}
    kiln = {"version": "9.9.9", "image": str(image)}
    path = template(tmp_path, "v1.32.2", workers=2, kiln=kiln)
    synced = await run(hub, "template", "sync", "-f", str(path))
    assert synced.returncode == 0, synced.stderr
    waited = await run(hub, "template", "status", "roll", "--wait", "--timeout", WAIT)
    assert waited.returncode == 1
    reason = "upgrade: only a node running from an installed disk (metal mode) has A/B slots"
    assert f"rollout paused: machine {planes[0]}: {reason}" in waited.stderr, waited.stderr
    shown = await run(hub, "template", "status", "roll")
    assert f"rollout paused: machine {planes[0]}: {reason}" in shown.stdout
    found = await messages(hub)
    assert found[planes[0]] == f"rollout paused: {reason}"
    for other in [planes[1], *workers]:  # none of the others was started
        assert found[other].startswith("its upgrade to Kiln 9.9.9 waits: rollout paused")
    assert {uuid: len(applied(node)) for uuid, node in nodes.items()} == before

    # A template without the upgrade resumes: nothing left to roll out, the cluster runs.
    reverted = await run(hub, "template", "sync", "-f", str(template(tmp_path, "v1.32.2", 2)))
    assert reverted.returncode == 0, reverted.stderr

    async def resumed() -> bool:
        _, status = await cluster_of(hub, "roll")
        return not status["rollout"] and bool(status["healthy"])

    await until(resumed, within=60.0)
    assert {uuid: len(applied(node)) for uuid, node in nodes.items()} == before
