"""The resource types of a node, shared by the node daemon and its clients.

One module per type under a folder per domain (``config/``, ``runtime/``, ``network/``,
``etcd/``), each with its type name, the id of a singleton, the spec with its ``@definition``
and a constructor.
:func:`node_registry` knows them all; :mod:`namespaces` lists the namespaces.

A sensitive definition's spec may offer ``redacted()``: what readers without the admin role see
instead (:func:`redact`). Sensitive specs without it are hidden from them entirely.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kiln.machinery.resources.config.machine_config import MachineConfigSpec
from kiln.machinery.resources.etcd.member import EtcdMemberSpec
from kiln.machinery.resources.network.hostname_status import HostnameStatusSpec
from kiln.machinery.resources.network.node_address import NodeAddressSpec
from kiln.machinery.resources.runtime.boot_slots import BootSlotsSpec
from kiln.machinery.resources.runtime.machine_identity import MachineIdentitySpec
from kiln.machinery.resources.runtime.machine_stage import MachineStageSpec, Stage
from kiln.machinery.resources.runtime.machine_status import MachineStatusSpec
from kiln.machinery.resources.runtime.mount_status import MountStatusSpec
from kiln.machinery.resources.runtime.service import ServiceStatusSpec
from kiln.machinery.resources.runtime.version import VersionSpec
from kiln.resources import Registry, Resource, definition_of

#: Every resource type a node has.
NODE_SPECS: tuple[type[BaseModel], ...] = (
    BootSlotsSpec,
    EtcdMemberSpec,
    HostnameStatusSpec,
    MachineConfigSpec,
    MachineIdentitySpec,
    MachineStageSpec,
    MachineStatusSpec,
    MountStatusSpec,
    NodeAddressSpec,
    ServiceStatusSpec,
    VersionSpec,
)


def node_registry() -> Registry:
    """A registry of every node resource type."""
    return Registry(NODE_SPECS)


def redact(resource: Resource[Any]) -> Resource[Any]:
    """What a reader without secrets may see of ``resource`` (itself when not sensitive)."""
    described = definition_of(resource.spec)
    if not described.sensitive:
        return resource
    redactor = getattr(resource.spec, "redacted", None)
    spec = redactor() if callable(redactor) else described.spec.model_construct()
    return Resource(resource.metadata.copy(), spec)


__all__ = [
    "NODE_SPECS",
    "BootSlotsSpec",
    "EtcdMemberSpec",
    "HostnameStatusSpec",
    "MachineConfigSpec",
    "MachineIdentitySpec",
    "MachineStageSpec",
    "MachineStatusSpec",
    "MountStatusSpec",
    "NodeAddressSpec",
    "ServiceStatusSpec",
    "Stage",
    "VersionSpec",
    "node_registry",
    "redact",
]
