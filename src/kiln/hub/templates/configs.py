"""A cluster machine's config: the cluster's generated config for its role, then the patches
of the cluster, of its machine set and of the machine itself, then what makes it the
machine's own (its address in the API certificate)."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.hub.templates.model import ClusterTemplate, TemplatePatch
from kiln.machinery.config import JsonPatch, MachineConfig, Patch, StrategicPatch, apply_patches
from kiln.machinery.config.generate import DEFAULT_INSTALL_DISK, generate_configs, node_patch
from kiln.machinery.config.model import MachineType
from kiln.machinery.errors import PatchError
from kiln.machinery.secrets import SecretsBundle

KUBERNETES_API_PORT = 6443


@dataclass(frozen=True)
class MachinePlace:
    """Where a machine sits in a cluster: its set, its type and its address."""

    uuid: str
    set_name: str
    machine_type: MachineType
    address: str


def endpoint_of(template: ClusterTemplate, bootstrap_address: str) -> str:
    """The Kubernetes API URL: the template's, else the bootstrap control plane's address."""
    if template.cluster.endpoint:
        return template.cluster.endpoint
    host = f"[{bootstrap_address}]" if ":" in bootstrap_address else bootstrap_address
    return f"https://{host}:{KUBERNETES_API_PORT}"


def to_patch(patch: TemplatePatch, where: str) -> Patch:
    """A template patch as a config patch (PatchError if it is not one)."""
    source = f"{where} patch {patch.label}"
    if isinstance(patch.inline, list):
        return JsonPatch.from_operations(patch.inline, source)
    if patch.inline is None:  # the client inlines files; the hub refuses them
        raise PatchError(f"{source}: its file was not read")
    return StrategicPatch(source, (patch.inline,))


def base_config(
    template: ClusterTemplate, secrets: SecretsBundle, endpoint: str, place: MachinePlace
) -> MachineConfig:
    """The generated config of the machine's type, before any patch (ConfigError)."""
    machine = template.machine(place.uuid)
    disk = machine.install.disk if machine and machine.install else DEFAULT_INSTALL_DISK
    kubernetes = template.cluster.kubernetes
    generated = generate_configs(
        template.cluster.name,
        endpoint,
        secrets,
        kubernetes_version=kubernetes.version if kubernetes else None,
        install_disk=disk,
    )
    if place.machine_type is MachineType.CONTROLPLANE:
        return generated.controlplane
    return generated.worker


def patches_of(template: ClusterTemplate, place: MachinePlace) -> list[Patch]:
    """The machine's patches in order: cluster, machine set, machine, its own (PatchError)."""
    machine = template.machine(place.uuid)
    machine_set = next(s for s in template.machine_sets() if s.set_name == place.set_name)
    patches = [to_patch(p, "cluster") for p in template.cluster.patches]
    patches += [to_patch(p, place.set_name) for p in machine_set.patches]
    if machine is not None:
        patches += [to_patch(p, f"machine {place.uuid}") for p in machine.patches]
    patches.append(node_patch(f"machine {place.uuid}", place.address))
    return patches


def machine_config(
    template: ClusterTemplate, secrets: SecretsBundle, endpoint: str, place: MachinePlace
) -> MachineConfig:
    """The config of one machine (see the module docstring); PatchError or ConfigError."""
    base = base_config(template, secrets, endpoint, place)
    return apply_patches(base, patches_of(template, place))
