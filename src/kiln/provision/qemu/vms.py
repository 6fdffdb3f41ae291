"""A cluster's VMs as detached QEMU processes, each on its tap device in the cluster's
network namespace. Booted PXE-style from the image (kernel and initramfs given to QEMU, the
root squashfs attached read-only and shared by all VMs, ``/var`` in memory), or, for a VM
that installs, through UEFI: its own blank disk first, then the image's ISO read-only; the
node installs to the disk when it gets its config and from then on boots from it (a guest
reboot restarts the VM)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import uuid as uuidlib
from collections.abc import Sequence

from kiln import qemu
from kiln.provision import daemons
from kiln.provision.nodes import LAUNCHER_LOG
from kiln.provision.qemu import network
from kiln.provision.record import ClusterRecord, NodeRecord
from kiln.provision.request import VMImage, VMResources

DISK = "disk.raw"
UEFI_VARS = "uefi-vars.fd"
GIB = 1 << 30


def vm_spec(
    record: ClusterRecord,
    node: NodeRecord,
    image: VMImage,
    resources: VMResources,
    extra: Sequence[str] = (),
) -> qemu.VMSpec:
    """``extra`` ``key=value`` arguments (the hub to join) go on the kernel command line of a
    VM booted PXE-style, or into the SMBIOS OEM strings of one that boots from its disk."""
    index = record.nodes.index(node)
    spec = qemu.VMSpec(
        kernel=image.kernel,
        initramfs=image.initramfs,
        root=image.root,
        cmdline=" ".join([image.cmdline, *extra]),
        serial_log=daemons.log_path(record, node),
        memory_mb=resources.memory_mb,
        cpus=resources.cpus,
        tap=network.tap(index),
        mac=network.node_mac(index),
        uuid=machine_uuid(record, node),
    )
    if not resources.disk_gib or image.iso is None:
        return spec
    directory = record.node_dir(node)
    return dataclasses.replace(
        spec,
        kernel=None,
        initramfs=None,
        root=None,
        cmdline="",
        disks=(directory / DISK,),
        media=image.iso,
        uefi_vars=directory / UEFI_VARS,
        reboot=True,
        oem_strings=tuple(extra),
    )


def machine_uuid(record: ClusterRecord, node: NodeRecord) -> str:
    """The VM's SMBIOS system UUID, as a machine's is: the same through reboots and installs
    (a node goes by it), new for every cluster made."""
    made = f"{record.directory}/{node.name}@{record.created.isoformat()}"
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, made))


def prepare_disks(spec: qemu.VMSpec, disk_gib: int) -> None:
    """A blank (sparse) install disk and a copy of the firmware's variables, unless the VM
    has them already (a VM started again keeps what it installed)."""
    for disk in spec.disks:
        if not disk.exists():
            disk.parent.mkdir(parents=True, exist_ok=True)
            with disk.open("wb") as f:
                f.truncate(disk_gib * GIB)
    if spec.uefi_vars is not None and not spec.uefi_vars.exists():
        shutil.copyfile(qemu.OVMF_VARS, spec.uefi_vars)


async def start(
    record: ClusterRecord,
    node: NodeRecord,
    image: VMImage,
    resources: VMResources,
    extra: Sequence[str] = (),
) -> None:
    """Boot the node's VM and record QEMU's process in ``node``."""
    record.node_dir(node).mkdir(parents=True, exist_ok=True)
    spec = vm_spec(record, node, image, resources, extra)
    await asyncio.to_thread(prepare_disks, spec, resources.disk_gib)
    argv = spec.argv(await asyncio.to_thread(qemu.accelerator))
    started = daemons.detach(
        network.in_namespace(record.name, argv),
        record.node_dir(node) / LAUNCHER_LOG,
        recorded=argv,
    )
    node.pid, node.argv, node.start_time = started.pid, started.argv, started.start_time
