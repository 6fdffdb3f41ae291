"""The node's drain before it goes down, against an in-memory Kubernetes API: pods evicted and
waited for; a refusal that outlasts the timeout refuses the action and undoes Kiln's cordon (never
a user's); nothing to drain without credentials or a Node; the cordon undone at boot once Ready."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiln.machined.errors import DrainError
from kiln.machined.events import EventBus, EventType
from kiln.machined.kubernetes import drain
from kiln.machined.kubernetes.apiclient import ApiClient, ApiError
from kiln.machined.node.k8s_drain import NodeDrain
from kiln.machinery.drain import DrainOptions

FAST = {"poll": 0.01, "uncordon_poll": 0.01}


class Cluster(drain.NodeApi):
    """One Node and its pods in memory. An evicted pod terminates and is gone at the next
    listing; pods named in ``budget`` are refused (429)."""

    def __init__(self, node: dict[str, Any] | None, pods: list[str]) -> None:
        super().__init__(ApiClient("https://127.0.0.1:1", Path("ca"), Path("cert")), "w1", "v1")
        self.stored = node
        self.pods_left = {name: {"uid": name, "terminating": False} for name in pods}
        self.budget: set[str] = set()
        self.patches: list[dict[str, Any]] = []
        self.unreachable = False
        self.failing_listings = 0  # the next listings that fail on the server's side

    def node(self) -> dict[str, Any] | None:
        if self.unreachable:
            raise ApiError("GET /api/v1/nodes/w1: connection refused")
        return copy.deepcopy(self.stored)

    def patch(self, patch: Any) -> None:
        assert self.stored is not None
        self.patches.append(patch)
        for section in ("metadata", "spec"):
            for key, value in patch.get(section, {}).items():
                if key == "annotations":
                    annotations = self.stored["metadata"].setdefault("annotations", {})
                    for name, text in value.items():
                        if text is None:
                            annotations.pop(name, None)
                        else:
                            annotations[name] = text
                elif value is None:
                    self.stored[section].pop(key, None)
                else:
                    self.stored[section][key] = value

    def pods(self) -> list[dict[str, Any]]:
        if self.failing_listings:
            self.failing_listings -= 1
            raise ApiError("GET /api/v1/pods: 503 the server is shutting down", 503)
        listing = []
        for name, pod in list(self.pods_left.items()):
            if pod["terminating"]:
                del self.pods_left[name]  # terminated since the last listing
                continue
            meta = {"name": name, "namespace": "apps", "uid": pod["uid"]}
            listing.append({"metadata": meta, "status": {"phase": "Running"}})
        return listing

    def evict(self, pod: drain.Pod) -> drain.Refusal | None:
        if pod.name in self.budget:
            return drain.Refusal(pod, f"The disruption budget {pod.name}-pdb needs 1 healthy pods")
        self.pods_left[pod.name]["terminating"] = True
        return None


def node(*, unschedulable: bool = False, ready: bool = True) -> dict[str, Any]:
    status = "True" if ready else "False"
    return {
        "metadata": {"name": "w1", "annotations": {}},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": [{"type": "Ready", "status": status}]},
    }


def drain_events(events: EventBus) -> list[str]:
    return [e.message for e in events.recent() if e.type is EventType.DRAIN]


def drainer(api: Cluster | None, events: EventBus) -> NodeDrain:
    return NodeDrain("w1", lambda: api, events, **FAST)


async def test_a_drain_cordons_evicts_and_waits_until_the_pods_are_gone() -> None:
    cluster, events = Cluster(node(), ["web", "db"]), EventBus()
    await drainer(cluster, events).drain("upgrade", DrainOptions(timeout=5))
    assert cluster.pods_left == {}
    assert cluster.stored is not None
    assert cluster.stored["spec"]["unschedulable"] is True  # stays cordoned: the node goes down
    assert cluster.stored["metadata"]["annotations"] == {drain.CORDONED_FOR: "upgrade"}
    said = drain_events(events)
    assert said[:4] == [
        "cordoned node w1 for the upgrade",
        "evicting 2 pods: apps/web, apps/db",
        "evicted pod apps/web",
        "evicted pod apps/db",
    ]
    assert said[-1].startswith("node w1 drained in ")


async def test_a_budget_outlasting_the_timeout_refuses_and_uncordons() -> None:
    cluster, events = Cluster(node(), ["web", "db"]), EventBus()
    cluster.budget = {"db"}
    with pytest.raises(DrainError) as refused:
        await drainer(cluster, events).drain("reboot", DrainOptions(timeout=0.2))
    message = str(refused.value)
    assert message.startswith("the reboot did not happen: node w1 cannot be drained, not done in")
    assert "apps/db cannot be evicted: The disruption budget db-pdb needs 1 healthy pods" in message
    assert "; the node is uncordoned" in message
    assert message.endswith("kilnctl --no-drain, to go down anyway)")
    assert cluster.stored == node()  # no cordon, no annotation left
    assert list(cluster.pods_left) == ["db"]
    assert "uncordoned node w1 (cordoned for the reboot)" in drain_events(events)
    assert sum("refused for now" in m for m in drain_events(events)) == 1  # said once


async def test_a_users_cordon_is_kept_through_a_failed_drain() -> None:
    cluster, events = Cluster(node(unschedulable=True), ["db"]), EventBus()
    cluster.budget = {"db"}
    with pytest.raises(DrainError) as refused:
        await drainer(cluster, events).drain("shutdown", DrainOptions(timeout=0.1))
    assert "uncordoned" not in str(refused.value)
    assert cluster.patches == []
    assert cluster.stored == node(unschedulable=True)
    assert drain_events(events)[0] == "node w1 was cordoned by someone else: left so"


@pytest.mark.parametrize(
    ("api", "why"),
    [
        (None, "the kubelet has not joined"),
        (Cluster(None, []), "no Node w1 is registered"),
    ],
)
async def test_a_node_with_nothing_to_drain_goes_down_saying_why(
    api: Cluster | None, why: str
) -> None:
    events = EventBus()
    await drainer(api, events).drain("reboot", DrainOptions())
    assert drain_events(events) == [f"not drained before the reboot: {why}"]


async def test_an_unreachable_api_or_a_skip_does_not_hold_the_node() -> None:
    cluster, events = Cluster(node(), ["web"]), EventBus()
    await drainer(cluster, events).drain("reset", DrainOptions(skip=True))
    cluster.unreachable = True
    await drainer(cluster, events).drain("reset", DrainOptions())
    said = drain_events(events)
    assert said[0] == "not drained before the reset: asked not to"
    assert said[1].startswith("not drained before the reset: the Kubernetes API cannot be reached")
    assert cluster.patches == [] and list(cluster.pods_left) == ["web"]


async def test_at_boot_kilns_cordon_is_undone_once_the_kubelet_says_again_it_is_ready() -> None:
    cordoned = node(unschedulable=True)  # Ready, as the kubelet said before the reboot
    cordoned["status"]["conditions"][0]["lastHeartbeatTime"] = "2020-01-01T00:00:00Z"
    cordoned["metadata"]["annotations"] = {drain.CORDONED_FOR: "upgrade"}
    cluster, events = Cluster(cordoned, []), EventBus()
    task = drainer(cluster, events).start(lambda work, name: asyncio.create_task(work, name=name))
    await asyncio.sleep(0.05)
    assert cluster.patches == []  # a Ready from before this boot
    assert cluster.stored is not None
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    cluster.stored["status"]["conditions"][0]["lastHeartbeatTime"] = now
    await asyncio.wait_for(task, 2)
    assert cluster.stored["spec"] == {}
    assert cluster.stored["metadata"]["annotations"] == {}
    assert drain_events(events) == ["uncordoned node w1 (cordoned for the upgrade)"]


async def test_at_boot_a_users_cordon_stays() -> None:
    cluster, events = Cluster(node(unschedulable=True), []), EventBus()
    task = drainer(cluster, events).start(lambda work, name: asyncio.create_task(work, name=name))
    await asyncio.wait_for(task, 2)
    assert cluster.patches == [] and drain_events(events) == []


async def test_a_drain_whose_caller_goes_away_undoes_its_cordon() -> None:
    cluster, events = Cluster(node(), ["db"]), EventBus()
    cluster.budget = {"db"}
    draining = asyncio.create_task(drainer(cluster, events).drain("reboot", DrainOptions()))
    async for event in events.subscribe(tail=-1):
        if event.message == "cordoned node w1 for the reboot":
            break
    draining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await draining
    assert cluster.stored == node()


async def test_an_api_failing_for_a_while_is_asked_again() -> None:
    cluster, events = Cluster(node(), ["web"]), EventBus()
    cluster.failing_listings = 3
    await drainer(cluster, events).drain("reboot", DrainOptions(timeout=5))
    assert cluster.pods_left == {} and cluster.failing_listings == 0


async def test_an_api_failing_past_the_timeout_says_so() -> None:
    cluster, events = Cluster(node(), ["web"]), EventBus()
    cluster.failing_listings = 1000
    with pytest.raises(DrainError, match=r"the Kubernetes API failed: .* 503 the server"):
        await drainer(cluster, events).drain("reboot", DrainOptions(timeout=0.1))
    assert cluster.stored == node()
