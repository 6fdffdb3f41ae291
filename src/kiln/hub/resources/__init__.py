"""The hub's resource types, one module per type, and the registry that knows them all.

Namespaces: ``auth`` (API keys, join tokens), ``audit`` (one entry per mutating call),
``hub`` (the shared PKI, the running replicas), ``inventory`` (machines: what they told the
hub, their user labels, and the status a controller derives from both) and ``clusters``
(clusters from templates, their secrets, the machines allocated to them and the status of
both).
"""

from __future__ import annotations

from pydantic import BaseModel

from kiln.hub.resources.api_key import ApiKeySpec
from kiln.hub.resources.audit import AuditEntrySpec
from kiln.hub.resources.cluster import ClusterSpec
from kiln.hub.resources.cluster_machine import ClusterMachineSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec
from kiln.hub.resources.cluster_secrets import ClusterSecretsSpec
from kiln.hub.resources.cluster_status import ClusterStatusSpec
from kiln.hub.resources.hub_pki import HubPkiSpec
from kiln.hub.resources.join_token import JoinTokenSpec
from kiln.hub.resources.machine import DiskFact, MachineFacts, MachineSpec
from kiln.hub.resources.machine_credentials import MachineCredentialsSpec
from kiln.hub.resources.machine_labels import MachineLabelsSpec
from kiln.hub.resources.machine_status import MachineStatusSpec
from kiln.hub.resources.replica import HubReplicaSpec
from kiln.resources import Registry

HUB_SPECS: tuple[type[BaseModel], ...] = (
    ApiKeySpec,
    AuditEntrySpec,
    ClusterMachineSpec,
    ClusterMachineStatusSpec,
    ClusterSecretsSpec,
    ClusterSpec,
    ClusterStatusSpec,
    HubPkiSpec,
    HubReplicaSpec,
    JoinTokenSpec,
    MachineCredentialsSpec,
    MachineLabelsSpec,
    MachineSpec,
    MachineStatusSpec,
)


def hub_registry() -> Registry:
    return Registry(HUB_SPECS)


__all__ = [
    "HUB_SPECS",
    "ApiKeySpec",
    "AuditEntrySpec",
    "ClusterMachineSpec",
    "ClusterMachineStatusSpec",
    "ClusterSecretsSpec",
    "ClusterSpec",
    "ClusterStatusSpec",
    "DiskFact",
    "HubPkiSpec",
    "HubReplicaSpec",
    "JoinTokenSpec",
    "MachineCredentialsSpec",
    "MachineFacts",
    "MachineLabelsSpec",
    "MachineSpec",
    "MachineStatusSpec",
    "hub_registry",
]
