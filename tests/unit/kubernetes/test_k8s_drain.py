"""Which pods a drain evicts and which it leaves, the cordon Kiln makes and undoes (never a
user's), and how a refused eviction reads."""

from __future__ import annotations

import io
import json
import urllib.error
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from kiln.machined.kubernetes import drain
from kiln.machined.kubernetes.apiclient import ApiClient, ApiError, reason_of
from kiln.machined.kubernetes.versions import compatibility
from kiln.machinery.api import machine_pb2
from kiln.machinery.drain import DEFAULT_TIMEOUT, DrainOptions


def pod(name: str, *, phase: str = "Running", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "apps", "uid": f"uid-{name}", **meta},
        "status": {"phase": phase},
    }


def test_a_drain_evicts_workload_pods_and_leaves_static_daemonset_and_finished_ones() -> None:
    owned_by_rs = [{"kind": "ReplicaSet", "name": "web-1", "controller": True}]
    owned_by_ds = [{"kind": "DaemonSet", "name": "agent", "controller": True}]
    found = drain.plan(
        [
            pod("web", ownerReferences=owned_by_rs),
            pod("bare"),
            pod("stopping", deletionTimestamp="2026-01-01T00:00:00Z"),
            pod("apiserver", annotations={drain.MIRROR: "abc"}),
            pod("agent", ownerReferences=owned_by_ds),
            pod("job", phase="Succeeded"),
            pod("crashed", phase="Failed"),
        ]
    )
    assert [str(p) for p in found.evict] == ["apps/web", "apps/bare", "apps/stopping"]
    assert [p.terminating for p in found.evict] == [False, False, True]
    assert [(p.name, why) for p, why in found.skipped] == [
        ("apiserver", drain.Skip.STATIC),
        ("agent", drain.Skip.DAEMONSET),
        ("job", drain.Skip.FINISHED),
        ("crashed", drain.Skip.FINISHED),
    ]


def test_a_pod_merely_referencing_a_daemonset_is_evicted() -> None:
    not_controller = [{"kind": "DaemonSet", "name": "agent", "controller": False}]
    assert drain.skip_reason(pod("x", ownerReferences=not_controller)) is None


def node(*, unschedulable: bool = False, annotations: dict[str, str] | None = None) -> Any:
    return {
        "metadata": {"name": "w1", "annotations": annotations or {}},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_kiln_cordons_with_its_annotation_and_undoes_only_its_own_cordon() -> None:
    patch = drain.cordon_patch(node(), "upgrade")
    assert patch == {
        "metadata": {"annotations": {drain.CORDONED_FOR: "upgrade"}},
        "spec": {"unschedulable": True},
    }
    ours = node(unschedulable=True, annotations={drain.CORDONED_FOR: "reboot"})
    assert drain.cordon_patch(ours, "upgrade") is not None  # a cordon of ours left behind
    assert drain.uncordon_patch(ours) == {
        "metadata": {"annotations": {drain.CORDONED_FOR: None}},
        "spec": {"unschedulable": None},
    }


def test_a_users_cordon_is_neither_annotated_nor_undone() -> None:
    theirs = node(unschedulable=True)
    assert drain.cordon_patch(theirs, "reboot") is None
    assert drain.uncordon_patch(theirs) is None
    assert drain.uncordon_patch(node()) is None


def test_readiness_is_the_ready_condition_said_since_a_time() -> None:
    assert drain.is_ready(node())
    assert not drain.is_ready({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert not drain.is_ready({})
    said = node()
    said["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-12-07T00:44:30Z"
    boot = datetime(2026, 12, 7, 0, 44, 30, 600_000, tzinfo=UTC)
    assert drain.is_ready(said, boot)  # the same second: said by this boot's kubelet
    assert not drain.is_ready(said, boot + timedelta(seconds=1))
    assert not drain.is_ready(node(), boot)  # no heartbeat at all


def http_error(code: int, status: dict[str, Any]) -> urllib.error.HTTPError:
    body = io.BytesIO(json.dumps(status).encode())
    return urllib.error.HTTPError("https://x/", code, "Too Many Requests", Message(), body)


def test_an_answer_names_the_causes_such_as_the_disruption_budget() -> None:
    status = {
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "details": {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": "The disruption budget web needs 1 healthy pods and has 1 currently",
                }
            ]
        },
    }
    assert reason_of(http_error(429, status)) == (
        "Cannot evict pod as it would violate the pod's disruption budget.; "
        "The disruption budget web needs 1 healthy pods and has 1 currently"
    )
    assert reason_of(http_error(500, {})) == "Too Many Requests"


class Refusing(ApiClient):
    """Answers every request with an error of ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__("https://127.0.0.1:1", Path("ca"), Path("cert"))
        self.status = status
        self.asked: list[tuple[str, str, Any]] = []

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> Any:
        self.asked.append((method, path, json.loads(body) if body else None))
        raise ApiError(f"{method} {path}: {self.status} budget web says no", self.status)


def test_an_eviction_posts_the_versions_eviction_and_a_429_is_a_refusal_for_now() -> None:
    client = Refusing(429)
    api = drain.NodeApi(client, "w1", compatibility("v1.20.2").eviction_version)
    refusal = api.evict(drain.Pod("apps", "web", "uid-web"))
    assert refusal == drain.Refusal(drain.Pod("apps", "web", "uid-web"), "budget web says no")
    method, path, body = client.asked[0]
    assert (method, path) == ("POST", "/api/v1/namespaces/apps/pods/web/eviction")
    assert body["apiVersion"] == "policy/v1beta1" and body["kind"] == "Eviction"
    assert compatibility("v1.36.0").eviction_version == "policy/v1"


def test_an_eviction_of_a_pod_gone_already_is_done_and_other_errors_are_raised() -> None:
    assert drain.NodeApi(Refusing(404), "w1", "policy/v1").evict(drain.Pod("a", "b", "c")) is None
    with pytest.raises(ApiError):
        drain.NodeApi(Refusing(403), "w1", "policy/v1").evict(drain.Pod("a", "b", "c"))
    assert drain.NodeApi(Refusing(404), "w1", "policy/v1").node() is None


def test_drain_options_default_and_refuse_a_timeout_that_is_not_positive() -> None:
    assert DrainOptions.from_proto(machine_pb2.DrainOptions()) == DrainOptions()
    assert DrainOptions().timeout == DEFAULT_TIMEOUT
    given = DrainOptions.from_proto(machine_pb2.DrainOptions(skip=True, timeout_seconds=7))
    assert given == DrainOptions(skip=True, timeout=7)
    assert given.to_proto().timeout_seconds == 7
    for wrong in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="positive and finite"):
            DrainOptions.from_proto(machine_pb2.DrainOptions(timeout_seconds=wrong))
