"""Pruning: what Kiln applied is labelled and listed in the inventory ConfigMap; a sync deletes
the objects of the last inventory that left the config, unless they are gone, someone took them
over (the label removed) or their kind is no longer served; the inventory lists an object
before it is applied, so a sync cut short is finished by the next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiln.machined.kubernetes import inventory
from kiln.machined.kubernetes.apiclient import ApiClient, ApiError
from kiln.machined.kubernetes.manifests import ManifestError, ObjectRef

DISCOVERY = {
    "/api/v1": [
        {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
        {"name": "namespaces", "kind": "Namespace", "namespaced": False},
    ],
    "/apis/example.com/v1": [{"name": "widgets", "kind": "Widget", "namespaced": False}],
}
PREFIXES = {"configmaps": "/api/v1", "namespaces": "/api/v1", "widgets": "/apis/example.com/v1"}


class FakeApi(ApiClient):
    """An API server's objects by path: server-side apply stores, DELETE removes, GET reads;
    ``calls`` records the writes in order."""

    def __init__(self) -> None:
        super().__init__("https://127.0.0.1:6443", Path("ca"), Path("cert"))
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_apply: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        path = path.split("?")[0]
        if method == "GET":
            if path in DISCOVERY:
                return {"resources": DISCOVERY[path]}
            if path in self.objects:
                return self.objects[path]
            raise ApiError(f"GET {path}: 404", 404)
        self.calls.append((method, path))
        if method == "DELETE":
            if self.objects.pop(path, None) is None:
                raise ApiError(f"DELETE {path}: 404", 404)
            return {}
        assert body is not None and method == "PATCH"
        if self.fail_apply is not None and path.endswith(self.fail_apply):
            raise ApiError(f"PATCH {path}: 500", 500)
        self.objects[path] = json.loads(body)
        return self.objects[path]

    def listed(self) -> list[str]:
        found = json.loads(self.objects[inventory.PATH]["data"]["objects"])
        return [ObjectRef(**entry).describe() for entry in found]


def config_map(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}


def test_applied_objects_are_labelled_and_listed() -> None:
    api = FakeApi()
    done = inventory.sync(api, [NAMESPACE, config_map("a", "team"), config_map("b")])
    assert done.applied == ["Namespace/team", "ConfigMap/a", "ConfigMap/b"]
    assert done.pruned == []
    stored = api.objects["/api/v1/namespaces/team/configmaps/a"]
    assert stored["metadata"]["labels"] == {inventory.MANAGED_LABEL: inventory.MANAGER}
    assert api.listed() == ["Namespace/team", "ConfigMap/team/a", "ConfigMap/default/b"]


def test_objects_removed_from_the_config_are_deleted() -> None:
    api = FakeApi()
    inventory.sync(api, [NAMESPACE, config_map("a", "team"), config_map("b"), WIDGET])
    done = inventory.sync(api, [config_map("b")])
    assert done.pruned == ["Widget/w", "ConfigMap/team/a", "Namespace/team"]  # reverse order
    assert set(api.objects) == {inventory.PATH, "/api/v1/namespaces/default/configmaps/b"}
    assert api.listed() == ["ConfigMap/default/b"]
    assert inventory.sync(api, [config_map("b")]).pruned == []


def test_objects_taken_over_or_gone_are_left_alone() -> None:
    api = FakeApi()
    inventory.sync(api, [config_map("adopted"), config_map("gone"), WIDGET])
    api.objects["/api/v1/namespaces/default/configmaps/adopted"]["metadata"]["labels"] = {}
    del api.objects["/api/v1/namespaces/default/configmaps/gone"]
    DISCOVERY["/apis/example.com/v1"] = []  # the Widget kind no longer served
    try:
        done = inventory.sync(api, [])
    finally:
        DISCOVERY["/apis/example.com/v1"] = [
            {"name": "widgets", "kind": "Widget", "namespaced": False}
        ]
    assert done.pruned == []
    assert "/api/v1/namespaces/default/configmaps/adopted" in api.objects
    assert api.listed() == []


def test_a_sync_cut_short_is_finished_by_the_next() -> None:
    api = FakeApi()
    inventory.sync(api, [config_map("old")])
    api.fail_apply = "/configmaps/second"
    with pytest.raises(ManifestError, match="cannot apply ConfigMap second"):
        inventory.sync(api, [config_map("first"), config_map("second")])
    # applied before the failure, and still listed with what the last full sync applied
    assert "/api/v1/namespaces/default/configmaps/first" in api.objects
    assert set(api.listed()) >= {"ConfigMap/default/old", "ConfigMap/default/first"}
    api.fail_apply = None
    done = inventory.sync(api, [config_map("second")])  # "first" left the config meanwhile
    assert sorted(done.pruned) == ["ConfigMap/default/first", "ConfigMap/default/old"]
    assert api.listed() == ["ConfigMap/default/second"]


def test_a_failing_fetch_changes_nothing() -> None:
    api = FakeApi()
    inventory.sync(api, [config_map("kept")])
    before = dict(api.objects)

    def manifests() -> Any:
        yield config_map("new")
        raise ManifestError("cannot fetch the manifest https://example.com/x.yaml")

    with pytest.raises(ManifestError, match="cannot fetch"):
        inventory.sync(api, manifests())
    assert api.objects == before


def test_the_same_object_in_another_version_is_not_pruned() -> None:
    old = ObjectRef("apps/v1beta1", "Deployment", "kube-system", "coredns")
    new = ObjectRef("apps/v1", "Deployment", "kube-system", "coredns")
    gone = ObjectRef("v1", "ConfigMap", "kube-system", "x")
    assert inventory.stale([old, gone], [new]) == [gone]


def test_a_damaged_inventory_says_so() -> None:
    api = FakeApi()
    api.objects[inventory.PATH] = {"data": {"objects": "not json"}}
    with pytest.raises(ManifestError, match="kiln-manifests is damaged"):
        inventory.sync(api, [config_map("a")])
