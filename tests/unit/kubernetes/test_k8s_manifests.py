"""The cluster manifests a control-plane node applies: the bootstrap token and the bindings that
let kubelets join and rotate; CoreDNS only with an image; inline manifests parsed; each object
sent by server-side apply to the resource discovery names; the Nodes-Ready health check."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kiln.machined.kubernetes.apiclient import ApiClient, ApiError
from kiln.machined.kubernetes.manifests import (
    Applier,
    ManifestError,
    bootstrap_manifests,
    cluster_manifests,
    parse,
)
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.config.model import MachineConfigDocument
from kiln.machinery.health.kubernetes import nodes_check
from kiln.machinery.secrets import SecretsBundle

DISCOVERY = {
    "/api/v1": [
        {"name": "secrets", "kind": "Secret", "namespaced": True},
        {"name": "pods/log", "kind": "Pod", "namespaced": True},
        {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
    ],
    "/apis/rbac.authorization.k8s.io/v1": [
        {"name": "clusterrolebindings", "kind": "ClusterRoleBinding", "namespaced": False}
    ],
}


class RecordingApi(ApiClient):
    """An API that answers discovery and records what is applied."""

    def __init__(self) -> None:
        super().__init__("https://127.0.0.1:6443", Path("ca"), Path("cert"))
        self.patches: list[tuple[str, dict[str, Any], str]] = []

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        if method == "GET":
            if path not in DISCOVERY:
                raise ApiError(f"GET {path}: 404", 404)
            return {"resources": DISCOVERY[path]}
        assert body is not None
        self.patches.append((path, json.loads(body), content_type))
        return {}


def document(**cluster: Any) -> MachineConfigDocument:
    documents = generate_configs(
        "demo", "https://127.81.0.2:6443", SecretsBundle.generate()
    ).controlplane.to_documents()
    documents[0]["cluster"].update(cluster)
    return MachineConfig.from_documents(documents).machine_config


def test_bootstrap_token_and_bindings() -> None:
    doc = document()
    secret, *bindings = bootstrap_manifests(doc)
    token_id, token_secret = doc.cluster.token.split(".")
    assert secret["metadata"] == {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}
    assert base64.b64decode(secret["data"]["token-secret"]).decode() == token_secret
    roles = {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in bindings}
    csr = "system:certificates.k8s.io:certificatesigningrequests"
    assert roles == {
        ("system:node-bootstrapper", "system:bootstrappers"),
        (f"{csr}:nodeclient", "system:bootstrappers"),
        (f"{csr}:selfnodeclient", "system:nodes"),
        ("system:node-proxier", "system:nodes"),
    }


def test_coredns_only_with_an_image() -> None:
    def kinds(doc: MachineConfigDocument) -> list[str]:
        return [m["kind"] for m in cluster_manifests(doc)]

    assert "Deployment" not in kinds(document())
    with_image = list(cluster_manifests(document(coreDNS={"image": "example/coredns:1"})))
    deployment = next(m for m in with_image if m["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/coredns:1"
    service = next(m for m in with_image if m["kind"] == "Service")
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    disabled = document(coreDNS={"image": "example/coredns:1", "disabled": True})
    assert "Deployment" not in kinds(disabled)


def test_inline_manifests_are_parsed_in_order() -> None:
    contents = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\n---\n---\n" + json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}
        ]}
    )  # fmt: skip
    doc = document(inlineManifests=[{"name": "two", "contents": contents}])
    names = [m["metadata"]["name"] for m in cluster_manifests(doc)][-2:]
    assert names == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "not YAML"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "without apiVersion and kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "ConfigMap without metadata.name"),
    ],
)
def test_bad_manifests_say_where_and_why(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=f"inline manifest x: .*{message}"):
        parse(text, "inline manifest x")


def test_objects_go_to_their_resource_by_server_side_apply() -> None:
    api = RecordingApi()
    applied = Applier(api).apply_all(bootstrap_manifests(document())[:2])
    assert applied[1] == "ClusterRoleBinding/kiln:kubelet-bootstrap"
    (secret_path, _, kind), (binding_path, body, _) = api.patches
    assert secret_path.startswith("/api/v1/namespaces/kube-system/secrets/bootstrap-token-")
    assert secret_path.endswith("?fieldManager=kiln&force=true")
    assert kind == "application/apply-patch+yaml"
    assert binding_path.startswith(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kiln%3Akubelet-bootstrap?"
    )
    assert body["kind"] == "ClusterRoleBinding"
    with pytest.raises(ManifestError, match="serves no Widget in v1"):
        Applier(api).apply({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}})


def test_nodes_check_names_every_node() -> None:
    def node(name: str, status: str | None) -> dict[str, Any]:
        conditions = [] if status is None else [
            {"type": "Ready", "status": status, "message": "kubelet is posting ready status"
             if status == "True" else "container runtime network not ready"}
        ]  # fmt: skip
        return {"metadata": {"name": name}, "status": {"conditions": conditions}}

    good = nodes_check("cp", {"items": [node("cp-1", "True"), node("w-1", "True")]})
    assert good.ok and good.reason == "cp-1 Ready, w-1 Ready"
    bad = nodes_check("cp", {"items": [node("cp-1", "True"), node("w-1", "False")]})
    assert not bad.ok and "w-1 NotReady (container runtime network not ready)" in bad.reason
    assert not nodes_check("cp", {"items": [node("w-2", None)]}).ok
    assert nodes_check("cp", {"items": []}).reason == "no node has registered"
