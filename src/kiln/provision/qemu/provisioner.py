"""The QEMU provisioner: the container provisioner's steps, with VMs instead of processes.

Before the nodes start it makes the cluster's private network (:mod:`.network`: namespace,
bridge, taps, DHCP with a fixed lease per node) and the port forwarder that brings each
node's API (50000, 50001) and Kubernetes API (6443) to its loopback address on the host.
Destroy powers the VMs off, stops the network's processes and removes the namespace.

::

    provisioner = QemuProvisioner(progress=print)
    await provisioner.create(ClusterRequest("vms", controlplanes=3, workers=1, image=image))
    await provisioner.destroy("vms")
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

from kiln import pids
from kiln.provision import daemons
from kiln.provision.addresses import PRIVATE_SUBNET
from kiln.provision.container import ContainerProvisioner
from kiln.provision.creating import ALLOCATE, WAIT_MAINTENANCE, CreateStep, Creating, create_steps
from kiln.provision.errors import ProvisionError
from kiln.provision.qemu import forward, network, vms
from kiln.provision.record import ClusterRecord, NodeRecord, ProcessRecord
from kiln.provision.request import ClusterRequest, HubJoin
from kiln.provision.steps import ProgressCallback, Step, ignore_progress

NETWORK_LOG = "network.log"
FORWARDED_PORTS = (50000, 50001, 6443)
NETWORK_STEP = "create the private network"
BOOT_STEP = "boot VMs"
STOP_GRACE = 5.0


class QemuProvisioner(ContainerProvisioner):
    """Creates, shows and destroys clusters of VMs under ``state_root``."""

    kind = "qemu"

    def __init__(
        self,
        progress: ProgressCallback = ignore_progress,
        *,
        state_root: Path | None = None,
        startup_timeout: float = 600.0,  # a VM boots in about 30 s alone, under TCG
        health_timeout: float = 600.0,
    ) -> None:
        super().__init__(
            progress,
            state_root=state_root,
            startup_timeout=startup_timeout,
            health_timeout=health_timeout,
        )

    def steps(self, request: ClusterRequest) -> list[CreateStep]:
        steps = create_steps(
            self.startup_timeout,
            self.health_timeout,
            start=(BOOT_STEP, boot),
            before_start=[Step(NETWORK_STEP, make_network)],
        )
        if request.pool:  # machines left in maintenance mode: no configs, no bootstrap
            keep = {ALLOCATE, NETWORK_STEP, BOOT_STEP, WAIT_MAINTENANCE}
            return [step for step in steps if step.name in keep]
        return steps

    async def teardown(self, record: ClusterRecord) -> None:
        await _stop_all(record.network)
        await asyncio.to_thread(network.remove, record.name)


async def make_network(c: Creating) -> str:
    record = c.record
    count = len(record.nodes)
    await asyncio.to_thread(network.create, record.name, count)
    log = record.directory / NETWORK_LOG
    if not record.network or not all(daemons.alive(found) for found in record.network):
        await _stop_all(record.network)
        dhcp = network.dhcp_argv(record.name, count, record.directory / "dhcp.leases")
        record.network = [
            daemons.detach(network.in_namespace(record.name, dhcp), log, recorded=dhcp),
            daemons.detach(_forwarder_argv(record, c.request.hub), log),
        ]
        record.save()
    return f"{network.namespace(record.name)}: {PRIVATE_SUBNET}, {count} taps, DHCP, forwarder"


def _forwarder_argv(record: ClusterRecord, hub: HubJoin | None) -> list[str]:
    routes = [
        f"{node.address}:{port}={node.cluster_address}:{port}"
        for node in record.nodes
        for port in FORWARDED_PORTS
    ]
    if hub is not None:  # the VMs reach the hub on the host through the bridge's address
        host, port = _hub_address(hub)
        routes += [
            f"{forward.BACK}{network.GATEWAY}:{each}={host}:{each}"
            for each in (port, hub.machine_port)
        ]
    module = "kiln.provision.qemu.forward"
    return [sys.executable, "-m", module, network.namespace(record.name), *routes]


def _hub_address(hub: HubJoin) -> tuple[str, int]:
    found = urlsplit(hub.url)
    if found.scheme != "https" or not found.hostname:
        raise ProvisionError(f"hub URL {hub.url!r}: expected https://HOST:PORT")
    return found.hostname, found.port or 443


def hub_arguments(hub: HubJoin | None) -> list[str]:
    """The hub to join as the VMs reach it: ``kiln.hub=`` and ``kiln.join_token=``."""
    if hub is None:
        return []
    _, port = _hub_address(hub)
    return [f"kiln.hub=https://{network.GATEWAY}:{port}", f"kiln.join_token={hub.token}"]


async def _stop_all(found: list[ProcessRecord]) -> None:
    for each in found:
        if each.pid is not None and daemons.alive(each):
            await pids.stop(each.pid, STOP_GRACE, name=each.argv[0])


async def boot(c: Creating, node: NodeRecord) -> str:
    if daemons.is_running(node):
        return f"running already (QEMU pid {node.pid})"
    image = c.request.image
    if image is None:
        raise ProvisionError("the QEMU provisioner needs an image to boot")
    await vms.start(c.record, node, image, c.request.vm, hub_arguments(c.request.hub))
    c.record.save()
    return f"QEMU pid {node.pid}, console {daemons.log_path(c.record, node)}"
