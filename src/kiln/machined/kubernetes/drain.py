"""Cordoning a node and evicting its pods, as the node itself does before it goes down, with the
kubelet's own credentials (the Node authorizer lets a node read pods, patch its Node and evict
the pods bound to it; NodeRestriction keeps it to its own). Blocking: call in a thread.

Which pods leave (:func:`plan`): every pod bound to the node except static (mirror) pods, pods
of a DaemonSet (they would come straight back) and pods that finished. A cordon made here
carries the annotation :data:`CORDONED_FOR`, so that only Kiln's own cordon is undone once the
node is back (:func:`uncordon_patch`); a node a user cordoned stays cordoned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from kiln.machined.kubernetes.apiclient import ApiClient, ApiError

CORDONED_FOR = "kiln.dev/cordoned-for"
"""Annotation of a Node that Kiln cordoned: why (``reboot``, ``upgrade``, ...)."""
MIRROR = "kubernetes.io/config.mirror"
FINISHED = ("Succeeded", "Failed")
MERGE_PATCH = "application/merge-patch+json"
TOO_MANY_REQUESTS = 429
NOT_FOUND = 404
Obj = Mapping[str, Any]


class Skip(StrEnum):
    """Why a pod on the node is not evicted."""

    STATIC = "static pod"
    DAEMONSET = "DaemonSet pod"
    FINISHED = "finished"


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    uid: str
    terminating: bool = False

    @classmethod
    def of(cls, pod: Obj) -> Pod:
        meta = pod.get("metadata") or {}
        return cls(
            str(meta.get("namespace") or "default"),
            str(meta.get("name", "")),
            str(meta.get("uid", "")),
            bool(meta.get("deletionTimestamp")),
        )

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Plan:
    """The pods to evict (or, already terminating, to wait for) and those left alone."""

    evict: tuple[Pod, ...]
    skipped: tuple[tuple[Pod, Skip], ...]


def skip_reason(pod: Obj) -> Skip | None:
    meta = pod.get("metadata") or {}
    if MIRROR in (meta.get("annotations") or {}):
        return Skip.STATIC
    owners = meta.get("ownerReferences") or []
    if any(owner.get("kind") == "DaemonSet" and owner.get("controller") for owner in owners):
        return Skip.DAEMONSET
    if (pod.get("status") or {}).get("phase") in FINISHED:
        return Skip.FINISHED
    return None


def plan(pods: Iterable[Obj]) -> Plan:
    evict: list[Pod] = []
    skipped: list[tuple[Pod, Skip]] = []
    for pod in pods:
        reason = skip_reason(pod)
        if reason is None:
            evict.append(Pod.of(pod))
        else:
            skipped.append((Pod.of(pod), reason))
    return Plan(tuple(evict), tuple(skipped))


def cordoned_by_kiln(node: Obj) -> bool:
    return CORDONED_FOR in ((node.get("metadata") or {}).get("annotations") or {})


def cordon_patch(node: Obj, reason: str) -> dict[str, Any] | None:
    """The patch that cordons ``node`` for ``reason``; None when someone else cordoned it
    already (their cordon is theirs to undo: it is neither annotated nor undone)."""
    if (node.get("spec") or {}).get("unschedulable") and not cordoned_by_kiln(node):
        return None
    return {"metadata": {"annotations": {CORDONED_FOR: reason}}, "spec": {"unschedulable": True}}


def uncordon_patch(node: Obj) -> dict[str, Any] | None:
    """The patch that undoes Kiln's cordon of ``node``; None when Kiln did not cordon it."""
    if not cordoned_by_kiln(node):
        return None
    return {"metadata": {"annotations": {CORDONED_FOR: None}}, "spec": {"unschedulable": None}}


def is_ready(node: Obj, since: datetime | None = None) -> bool:
    """Whether the Node is Ready, as its kubelet last said at ``since`` or later (a Ready
    condition from before a reboot is stale: the kubelet has not said so again yet)."""
    conditions = (node.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") != "Ready" or condition.get("status") != "True":
            continue
        if since is None:
            return True
        try:
            heartbeat = datetime.fromisoformat(str(condition.get("lastHeartbeatTime")))
        except ValueError:
            return False
        return heartbeat >= since.replace(microsecond=0)
    return False


@dataclass(frozen=True)
class Refusal:
    """An eviction the API refused for now (429: a PodDisruptionBudget allows no disruption)."""

    pod: Pod
    why: str


class NodeApi:
    """The calls a drain makes for the Node ``name`` through ``client``."""

    def __init__(self, client: ApiClient, name: str, eviction_version: str) -> None:
        self._client = client
        self.name = name
        self._eviction_version = eviction_version
        self._path = f"/api/v1/nodes/{quote(name, safe='')}"

    def node(self) -> dict[str, Any] | None:
        """The Node; None when it is not registered."""
        try:
            found: dict[str, Any] = self._client.get(self._path)
        except ApiError as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
        return found

    def patch(self, patch: Mapping[str, Any]) -> None:
        self._client.request("PATCH", self._path, json.dumps(patch).encode(), MERGE_PATCH)

    def pods(self) -> list[dict[str, Any]]:
        selector = quote(f"spec.nodeName={self.name}", safe="")
        listing = self._client.get(f"/api/v1/pods?fieldSelector={selector}")
        return list(listing.get("items") or [])

    def evict(self, pod: Pod) -> Refusal | None:
        """Ask for ``pod``'s eviction; a :class:`Refusal` when the API says not now, None when
        it is evicted (or gone already)."""
        path = (
            f"/api/v1/namespaces/{quote(pod.namespace, safe='')}/pods/"
            f"{quote(pod.name, safe='')}/eviction"
        )
        body = {
            "apiVersion": self._eviction_version,
            "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace},
        }
        try:
            self._client.request("POST", path, json.dumps(body).encode())
        except ApiError as exc:
            if exc.status == NOT_FOUND:
                return None
            if exc.status == TOO_MANY_REQUESTS:
                return Refusal(pod, _without_request(str(exc)))
            raise
        return None


def _without_request(message: str) -> str:
    """An ApiError's message without its leading ``METHOD path: 429``."""
    _, sep, rest = message.partition(f": {TOO_MANY_REQUESTS} ")
    return rest if sep else message
