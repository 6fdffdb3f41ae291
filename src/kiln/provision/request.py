"""What a local cluster should look like: :class:`ClusterRequest`, and the nodes it makes."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kiln.machinery.config import Patch
from kiln.provision.errors import ProvisionError

DEFAULT_BASE_ADDRESS = ipaddress.IPv4Address("127.66.0.0")
MAX_CONTROLPLANES = 9  # addresses .11-.19 of a cluster's /24
MAX_WORKERS = 200  # addresses .21-.220
CONTROLPLANE_OFFSET = 10
WORKER_OFFSET = 20
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


class NodeRole(StrEnum):
    CONTROLPLANE = "controlplane"
    WORKER = "worker"
    MACHINE = "machine"  # left in maintenance mode, for a hub to configure


def default_state_root(home: Path | None = None) -> Path:
    """Where clusters keep their state unless told otherwise: ``~/.kiln/clusters``."""
    return (home or Path.home()) / ".kiln" / "clusters"


def cluster_dir(name: str, state_root: Path | None = None) -> Path:
    """The state directory of cluster ``name``: ``<state root>/<name>``, absolute."""
    check_name(name)
    return (state_root or default_state_root()).absolute() / name


def check_name(name: str) -> str:
    """``name`` if it can name a cluster (a DNS label of up to 40 characters)."""
    if not _NAME.match(name):
        raise ProvisionError(
            f"{name!r} is not a cluster name: lowercase letters, digits and '-', at most 40, "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class NodePlan:
    """One node to make: ``<cluster>-controlplane-1``, ``<cluster>-worker-2``, ..."""

    name: str
    role: NodeRole
    index: int  # 1-based within its role

    @property
    def offset(self) -> int:
        """Its address within the cluster's /24."""
        base = CONTROLPLANE_OFFSET if self.role is NodeRole.CONTROLPLANE else WORKER_OFFSET
        return base + self.index


@dataclass(frozen=True)
class VMImage:
    """A built Kiln OS image to boot VMs from (the output directory of ``image build``)."""

    kernel: Path
    initramfs: Path
    root: Path  # the root squashfs, attached read-only to every VM
    cmdline: str
    version: str = ""
    iso: Path | None = None  # the bootable ISO: VMs that install boot from it first


@dataclass(frozen=True)
class HubJoin:
    """The hub a pool's machines join: its URL and join token, and its machine port (the
    port the hub's Join answer sends machines to), which VMs reach through the host."""

    url: str
    token: str
    machine_port: int = 8444


#: The disk a VM installs to: the first virtio disk (the image's ISO is the second).
VM_INSTALL_DISK = "/dev/vda"


@dataclass(frozen=True)
class VMResources:
    """Each VM's memory and vCPUs, and the GiB of the disk it installs to (0: no disk, the
    VM boots from the network and runs from memory)."""

    memory_mb: int = 1024
    cpus: int = 1
    disk_gib: int = 0


@dataclass(frozen=True)
class ClusterRequest:
    """A local cluster to create (see :class:`~kiln.provision.ContainerProvisioner`).

    ``state_root`` holds one directory per cluster (default ``~/.kiln/clusters``);
    ``base_address`` is the first /24 of loopback addresses to try; ``kilnconfig`` is the file
    that gets the cluster's context (None: none is written). ``image`` makes the nodes VMs
    booted from it (the QEMU provisioner); without it they are container-mode processes.
    """

    name: str
    controlplanes: int = 1
    workers: int = 0
    kubernetes_version: str | None = None
    config_patches: Sequence[Patch] = ()
    state_root: Path | None = None
    base_address: ipaddress.IPv4Address = DEFAULT_BASE_ADDRESS
    kilnconfig: Path | None = None
    image: VMImage | None = None
    vm: VMResources = VMResources()
    machines: int = 0  # a pool: this many machines left in maintenance mode, nothing else
    hub: HubJoin | None = None  # the hub the pool's machines join

    @property
    def pool(self) -> bool:
        return self.machines > 0

    @property
    def installs(self) -> bool:
        """Whether the VMs boot the image's ISO and install to a disk of their own (else
        they boot kernel and initramfs, PXE-style, and run from memory)."""
        return self.image is not None and self.vm.disk_gib > 0

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.installs and (self.image is None or self.image.iso is None):
            raise ProvisionError(
                "VMs that install to a disk boot the image's ISO: the image has no kiln.iso"
            )
        if self.pool:
            if not self.machines <= MAX_WORKERS:
                raise ProvisionError(f"machines: {self.machines} is more than {MAX_WORKERS}")
        elif not 1 <= self.controlplanes <= MAX_CONTROLPLANES:
            raise ProvisionError(
                f"controlplanes: {self.controlplanes} is not between 1 and {MAX_CONTROLPLANES}"
            )
        elif not 0 <= self.workers <= MAX_WORKERS:
            raise ProvisionError(f"workers: {self.workers} is not between 0 and {MAX_WORKERS}")
        if not self.base_address.is_loopback:
            raise ProvisionError(f"base address {self.base_address} is not a loopback address")

    @property
    def state_dir(self) -> Path:
        return cluster_dir(self.name, self.state_root)

    def nodes(self) -> list[NodePlan]:
        """Control planes first, then workers (or a pool's machines)."""
        if self.pool:
            return [
                NodePlan(f"{self.name}-machine-{i}", NodeRole.MACHINE, i)
                for i in range(1, self.machines + 1)
            ]
        plans = [
            NodePlan(f"{self.name}-controlplane-{i}", NodeRole.CONTROLPLANE, i)
            for i in range(1, self.controlplanes + 1)
        ]
        plans += [
            NodePlan(f"{self.name}-worker-{i}", NodeRole.WORKER, i)
            for i in range(1, self.workers + 1)
        ]
        return plans
