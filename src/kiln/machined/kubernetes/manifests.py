"""The manifests a control-plane node applies to its cluster, and how: server-side apply
(``kiln`` as field manager), each object sent to the resource the API's discovery names for its
kind, so any manifest applies without a table of kinds.

Applied, in order: the bootstrap manifests (the bootstrap token's Secret and the bindings that
let kubelets join, get their certificates approved and let kube-proxy run as the node), CoreDNS
once ``cluster.coreDNS.image`` is given, ``cluster.inlineManifests``, then
``cluster.extraManifests`` (fetched). :mod:`.inventory` labels and lists what is applied, and
deletes what left the config. Blocking: call in a thread.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import yaml

from kiln.machined.kubernetes.apiclient import ApiClient, ApiError
from kiln.machined.kubernetes.coredns import coredns_manifests
from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.kubernetes.kubelet import cluster_dns
from kiln.machinery.config.model import MachineConfigDocument

FIELD_MANAGER = "kiln"
FETCH_TIMEOUT = 30.0
Manifest = dict[str, Any]


class ManifestError(KubernetesError):
    """A manifest that cannot be read, fetched or applied."""


def _binding(name: str, role: str, group: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }


def bootstrap_manifests(document: MachineConfigDocument) -> list[Manifest]:
    """The bootstrap token's Secret and the bindings of joining kubelets and of kube-proxy."""
    token_id, secret = document.cluster.token.split(".", 1)
    data = {
        "token-id": token_id,
        "token-secret": secret,
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "description": "kubelets of the cluster's nodes join with it (cluster.token)",
    }
    csr = "system:certificates.k8s.io:certificatesigningrequests"
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
        },
        _binding("kiln:kubelet-bootstrap", "system:node-bootstrapper", "system:bootstrappers"),
        _binding("kiln:node-autoapprove-bootstrap", f"{csr}:nodeclient", "system:bootstrappers"),
        _binding("kiln:node-autoapprove-rotation", f"{csr}:selfnodeclient", "system:nodes"),
        _binding("kiln:node-proxier", "system:node-proxier", "system:nodes"),
    ]


def parse(text: str, where: str) -> list[Manifest]:
    """The objects of a multi-document YAML manifest (``kind: List`` expanded)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{where}: not YAML: {exc}") from exc
    found: list[Manifest] = []
    for document in documents:
        items = document.get("items") if isinstance(document, dict) else None
        for item in items if isinstance(items, list) else [document]:
            if not isinstance(item, dict) or not item.get("kind") or not item.get("apiVersion"):
                raise ManifestError(f"{where}: an object without apiVersion and kind")
            if not (item.get("metadata") or {}).get("name"):
                raise ManifestError(f"{where}: a {item['kind']} without metadata.name")
            found.append(item)
    return found


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:
            return bytes(answer.read()).decode()
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot fetch the manifest {url}: {exc}") from exc


def cluster_manifests(document: MachineConfigDocument) -> Iterator[Manifest]:
    """Everything to apply, in order (see the module docstring); extra manifests are fetched
    as they come."""
    yield from bootstrap_manifests(document)
    coredns = document.cluster.core_dns
    if not coredns.disabled and coredns.image is not None:
        domain = document.cluster.network.dns_domain
        yield from coredns_manifests(coredns.image, domain, cluster_dns(document))
    for inline in document.cluster.inline_manifests:
        yield from parse(inline.contents, f"inline manifest {inline.name}")
    for url in document.cluster.extra_manifests:
        yield from parse(fetch(str(url)), str(url))


@dataclass(frozen=True)
class ObjectRef:
    """One object of the cluster: ``namespace`` is empty for a cluster-wide one."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What names the object whatever the version of its API group."""
        group = self.api_version.rpartition("/")[0]
        return (group, self.kind, self.namespace, self.name)

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"

    def to_json(self) -> dict[str, str]:
        return {
            "api_version": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


class UnservedKindError(ManifestError):
    """The API serves no such kind (no such API group or version, or no such kind in it)."""


def object_path(prefix: str, resource: str, namespace: str, name: str) -> str:
    """The API path of one object."""
    path = prefix
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    return f"{path}/{resource}/{quote(name, safe='')}"


def manifest_inputs(document: MachineConfigDocument) -> tuple[Any, ...]:
    """What :func:`cluster_manifests` makes the manifests from: equal inputs, equal manifests
    (extra manifests fetched again only when their URLs change)."""
    cluster = document.cluster
    return (
        cluster.token,
        cluster.core_dns,
        cluster.network,
        cluster.inline_manifests,
        cluster.extra_manifests,
    )


class Applier:
    """Server-side apply of manifests through ``client``."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._resources: dict[str, Mapping[str, tuple[str, bool]]] = {}

    def _resource(self, api_version: str, kind: str) -> tuple[str, str, bool]:
        """The API path prefix, the resource name and whether it is namespaced."""
        prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        kinds = self._resources.get(api_version)
        if kinds is None:
            try:
                listing = self._client.get(prefix)
            except ApiError as exc:
                if exc.status == 404:
                    raise UnservedKindError(f"the API serves no {api_version}") from exc
                raise ManifestError(f"cannot discover {api_version}: {exc}") from exc
            kinds = {
                entry["kind"]: (entry["name"], bool(entry.get("namespaced")))
                for entry in listing.get("resources", [])
                if "/" not in entry["name"]
            }
            self._resources[api_version] = kinds
        if kind not in kinds:
            raise UnservedKindError(f"the API serves no {kind} in {api_version}")
        name, namespaced = kinds[kind]
        return prefix, name, namespaced

    def ref(self, manifest: Manifest) -> ObjectRef:
        """The object ``manifest`` makes (a namespaced one without a namespace: ``default``)."""
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        _, _, namespaced = self._resource(api_version, kind)
        metadata = manifest["metadata"]
        namespace = (metadata.get("namespace") or "default") if namespaced else ""
        return ObjectRef(api_version, kind, namespace, metadata["name"])

    def path(self, ref: ObjectRef) -> str:
        prefix, resource, _ = self._resource(ref.api_version, ref.kind)
        return object_path(prefix, resource, ref.namespace, ref.name)

    def apply(self, manifest: Manifest) -> str:
        """Apply one object; its ``kind/name`` for the log."""
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        path = self.path(self.ref(manifest))
        path += f"?fieldManager={FIELD_MANAGER}&force=true"
        body = json.dumps(manifest).encode()
        try:
            self._client.request("PATCH", path, body, "application/apply-patch+yaml")
        except ApiError as exc:
            raise ManifestError(f"cannot apply {kind} {name}: {exc}") from exc
        return f"{kind}/{name}"

    def apply_all(self, manifests: Iterable[Manifest]) -> list[str]:
        return [self.apply(manifest) for manifest in manifests]
