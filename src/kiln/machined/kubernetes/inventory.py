"""What Kiln applied to its cluster, so that a manifest removed from the config is removed from
the cluster at the next sync.

Every object Kiln applies carries the label :data:`MANAGED_LABEL` and is listed in the
inventory, the ConfigMap ``kube-system/kiln-manifests``. A sync (:func:`sync`) reads every
manifest first (a fetch that fails changes nothing), records the union of the old and the new
objects in the inventory, applies the new ones, deletes the objects of the old inventory that
are no longer wanted, then records only the new ones. A sync cut short by a crash is finished by
the next one: an object applied is always listed before it exists. An object whose label was
taken off (someone adopted it) or that is gone already is left alone; so is an object of a kind
the API no longer serves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.machined.kubernetes.apiclient import ApiClient, ApiError
from kiln.machined.kubernetes.manifests import (
    Applier,
    Manifest,
    ManifestError,
    ObjectRef,
    UnservedKindError,
)

logger = logging.getLogger(__name__)

MANAGED_LABEL = "kiln.dev/managed-by"
MANAGER = "kiln"
NAMESPACE = "kube-system"
NAME = "kiln-manifests"
PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{NAME}"
DELETE_OPTIONS = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


@dataclass(frozen=True)
class SyncResult:
    """What a sync applied and what it deleted, as ``kind/name`` for the log."""

    applied: list[str]
    pruned: list[str]


def labelled(manifest: Manifest) -> Manifest:
    """``manifest`` with :data:`MANAGED_LABEL` (a copy)."""
    metadata = dict(manifest["metadata"])
    metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_LABEL: MANAGER}
    return {**manifest, "metadata": metadata}


def read(client: ApiClient) -> list[ObjectRef]:
    """The objects of the inventory; none before the first sync."""
    try:
        found = client.get(PATH)
    except ApiError as exc:
        if exc.status == 404:
            return []
        raise ManifestError(f"cannot read the inventory {NAMESPACE}/{NAME}: {exc}") from exc
    try:
        listed = json.loads((found.get("data") or {}).get("objects") or "[]")
        return [ObjectRef(**entry) for entry in listed]
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"the inventory {NAMESPACE}/{NAME} is damaged: {exc}") from exc


def inventory_manifest(refs: Iterable[ObjectRef]) -> Manifest:
    objects: dict[tuple[str, str, str, str], ObjectRef] = {}
    for ref in refs:  # in the order applied, once each
        objects.setdefault(ref.key, ref)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"objects": json.dumps([ref.to_json() for ref in objects.values()], indent=1)},
    }


def stale(previous: Iterable[ObjectRef], desired: Iterable[ObjectRef]) -> list[ObjectRef]:
    """The objects of ``previous`` not in ``desired`` (the same group, kind, namespace and
    name count as one object whatever the version), in reverse order of application."""
    wanted = {ref.key for ref in desired}
    return [ref for ref in reversed(list(previous)) if ref.key not in wanted]


def delete(applier: Applier, client: ApiClient, ref: ObjectRef) -> bool:
    """Delete ``ref`` if it is still Kiln's; whether it was deleted."""
    try:
        path = applier.path(ref)
        current: dict[str, Any] = client.get(path)
    except UnservedKindError:  # nothing of a kind the API no longer serves is left
        return False
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise ManifestError(f"cannot read {ref.describe()}: {exc}") from exc
    labels = (current.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_LABEL) != MANAGER:
        logger.info("manifests: %s is no longer Kiln's; left in place", ref.describe())
        return False
    try:
        client.request("DELETE", path, json.dumps(DELETE_OPTIONS).encode())
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise ManifestError(f"cannot delete {ref.describe()}: {exc}") from exc
    return True


def sync(client: ApiClient, manifests: Iterable[Manifest]) -> SyncResult:
    """Apply ``manifests`` and delete what Kiln applied before that they no longer hold (see
    the module docstring); blocking. An object of a kind another manifest of the set defines
    (a custom resource) is listed once that kind is served, before it is applied."""
    wanted: Sequence[Manifest] = [labelled(manifest) for manifest in manifests]
    applier = Applier(client)
    previous = read(client)
    listed = {ref.key: ref for ref in previous}
    for manifest in wanted:
        try:
            ref = applier.ref(manifest)
        except UnservedKindError:
            continue
        listed.setdefault(ref.key, ref)
    applier.apply(inventory_manifest(listed.values()))
    desired: list[ObjectRef] = []
    applied: list[str] = []
    for manifest in wanted:
        ref = applier.ref(manifest)
        if ref.key not in listed:
            listed[ref.key] = ref
            applier.apply(inventory_manifest(listed.values()))
        desired.append(ref)
        applied.append(applier.apply(manifest))
    pruned = [ref.describe() for ref in stale(previous, desired) if delete(applier, client, ref)]
    applier.apply(inventory_manifest(desired))
    return SyncResult(applied, pruned)
