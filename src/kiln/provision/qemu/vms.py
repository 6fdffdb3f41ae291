"""A cluster's VMs as detached QEMU processes, each on its tap device in the cluster's
network namespace, booted PXE-style from the image: kernel and initramfs given to QEMU, the
root squashfs attached read-only (shared by all VMs of the cluster), ``/var`` in memory."""

from __future__ import annotations

import asyncio

from kiln import qemu
from kiln.provision import daemons
from kiln.provision.qemu import network
from kiln.provision.record import ClusterRecord, NodeRecord
from kiln.provision.request import VMImage, VMResources


def vm_spec(
    record: ClusterRecord, node: NodeRecord, image: VMImage, resources: VMResources
) -> qemu.VMSpec:
    index = record.nodes.index(node)
    return qemu.VMSpec(
        kernel=image.kernel,
        initramfs=image.initramfs,
        root=image.root,
        cmdline=image.cmdline,
        serial_log=daemons.log_path(record, node),
        memory_mb=resources.memory_mb,
        cpus=resources.cpus,
        tap=network.tap(index),
        mac=network.node_mac(index),
    )


async def start(
    record: ClusterRecord, node: NodeRecord, image: VMImage, resources: VMResources
) -> None:
    """Boot the node's VM and record QEMU's process in ``node``."""
    record.node_dir(node).mkdir(parents=True, exist_ok=True)
    argv = vm_spec(record, node, image, resources).argv(await asyncio.to_thread(qemu.accelerator))
    started = daemons.detach(
        network.in_namespace(record.name, argv),
        record.node_dir(node) / "qemu.log",
        recorded=argv,
    )
    node.pid, node.argv, node.start_time = started.pid, started.argv, started.start_time
