"""Control-plane nodes that run etcd, for the node daemon tests.

Every node gets a loopback address of its own, drawn at random from 127.0.0.0/8 so that test
runs on one machine do not collide: etcd's ports are fixed (2379 and 2380 on the node's
address). The first node's address is the cluster's control-plane endpoint, where the others
find the etcd cluster. Elections are made fast with etcd flags, for tests only.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
from pathlib import Path

from machined_cluster import Cluster, eventually, insecure, machine_status, maintenance_version
from machined_cluster import running as runs

from kiln.ctl.main import run
from kiln.machined.etcd import EtcdCertPaths, EtcdClient, EtcdError
from kiln.machined.testing import NodeProcess
from kiln.machinery import kilnconfig
from kiln.machinery.api import machine_pb2
from kiln.machinery.config import MachineConfig

TEST_EXTRA_ARGS = {"heartbeat-interval": "50", "election-timeout": "500"}
JOINED_WITHIN = 120.0  # etcd takes a membership change about every 5 s

_SUBNET = (random.randrange(16, 250), random.randrange(0, 256))
_HOSTS = itertools.count(random.randrange(1, 100))


def next_address() -> str:
    """A loopback address no other node of this test run uses."""
    return f"127.{_SUBNET[0]}.{_SUBNET[1]}.{next(_HOSTS) % 254 + 1}"


class EtcdCluster(Cluster):
    """A cluster whose control-plane endpoint is the node at ``first_address``."""

    def __init__(self, first_address: str) -> None:
        super().__init__(f"https://{first_address}:6443")

    def config(self, hostname: str) -> bytes:
        documents = self.controlplane.to_documents()
        documents[0]["machine"].setdefault("network", {})["hostname"] = hostname
        documents[0]["cluster"]["etcd"]["extraArgs"] = TEST_EXTRA_ARGS
        return MachineConfig.from_documents(documents).to_yaml().encode()

    def kilnconfig(self, directory: Path) -> Path:
        path = directory / "kilnconfig"
        if not path.exists():
            kilnconfig.save(kilnconfig.Kilnconfig().add("test", self.context()), path)
        return path


async def configure(cluster: EtcdCluster, node: NodeProcess, hostname: str) -> None:
    """Apply the control-plane config named ``hostname`` to a node in maintenance mode and
    wait until it runs (its etcd waits for a bootstrap or joins by itself)."""
    await eventually(lambda: maintenance_version(node), bool)
    async with insecure(node) as api:
        await api.apply_configuration(cluster.config(hostname))
    await eventually(
        lambda: machine_status(cluster, node), lambda found: found.resource.spec.stage == "running"
    )


async def members(cluster: Cluster, node: NodeProcess) -> list[machine_pb2.EtcdMember]:
    async with cluster.client(node) as api:
        (listing,) = await api.etcd_members()
    return list(listing.members)


async def wait_members(
    cluster: Cluster, node: NodeProcess, names: set[str], within: float = JOINED_WITHIN
) -> list[machine_pb2.EtcdMember]:
    """Until ``node`` lists exactly the voting members ``names``."""
    return await eventually(
        lambda: members(cluster, node),
        lambda found: {m.hostname for m in found} == names and not any(m.is_learner for m in found),
        within,
    )


async def etcd_service(cluster: Cluster, node: NodeProcess) -> machine_pb2.ServiceStatus:
    async with cluster.client(node) as api:
        (listing,) = await api.service_list()
    (etcd,) = [s for s in listing.services if s.id == "etcd"]
    return etcd


async def wait_ready(cluster: Cluster, node: NodeProcess, within: float = 30.0) -> None:
    """Until the node's etcd is healthy and the node is ready (a machine status read just
    after a boot may not know its services yet)."""
    await eventually(
        lambda: etcd_service(cluster, node),
        lambda etcd: etcd.state == "running" and etcd.health == "healthy",
        within,
    )
    await eventually(
        lambda: machine_status(cluster, node),
        lambda found: runs(found) and found.resource.spec.ready,
        within,
    )


def etcd_client(node: NodeProcess) -> EtcdClient:
    """A client of the node's member, with the client certificate the node issued itself."""
    tls = EtcdCertPaths(node.state_dir / "secrets" / "etcd").client_tls()
    endpoint = f"https://{node.host}:2379"
    return EtcdClient([endpoint], tls)


async def put(node: NodeProcess, key: str, value: str, within: float = 20.0) -> None:
    """Write a key through the node's member, trying again while the cluster elects a leader."""
    async with asyncio.timeout(within):
        while True:
            try:
                await etcd_client(node).put(key, value)
                return
            except EtcdError as exc:
                if not exc.temporary:
                    raise
            await asyncio.sleep(0.2)


async def etcd_pid(cluster: Cluster, node: NodeProcess) -> int:
    etcd = await etcd_service(cluster, node)
    assert etcd.state == "running" and etcd.pid > 0, etcd
    return etcd.pid


async def kill_with_etcd(cluster: Cluster, node: NodeProcess) -> None:
    """kill -9 the node's daemon and its etcd, as when the machine loses power."""
    pid = await etcd_pid(cluster, node)
    await node.kill()
    os.kill(pid, signal.SIGKILL)


async def kilnctl(cluster: EtcdCluster, node: NodeProcess, directory: Path, *args: str) -> int:
    """kilnctl against ``node`` with an admin context; it runs its own event loop."""
    common = ["--kilnconfig", str(cluster.kilnconfig(directory)), "-e", node.endpoint]
    return await asyncio.to_thread(run, [*common, *args])
