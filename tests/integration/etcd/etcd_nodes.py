"""Simulated nodes for etcd tests: each a supervisor with its own state directory, certificates
from one etcd CA, and an etcd member on its own loopback address and free ports.

Addresses are drawn at random from 127.0.0.0/8 (one per node) so that tests, and test runs of
other people on the same machine, do not collide. Connections between loopback addresses
leave from 127.0.0.1, and etcd checks a connecting peer's address against its certificate, so
every node's certificates name 127.0.0.1 besides its own address.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from kiln.machined.etcd import (
    EtcdBinaries,
    EtcdClient,
    EtcdMemberConfig,
    SupervisedEtcd,
    ensure_etcd_certificates,
)
from kiln.machined.services import Supervisor
from kiln.machined.services.testing import RecordingListener
from kiln.machinery.secrets import CertificateAuthority

# Fast elections for tests only; the defaults (100 ms / 1 s) suit real networks.
TEST_EXTRA_ARGS = {"heartbeat-interval": "50", "election-timeout": "500"}

_SUBNET = (random.randrange(16, 250), random.randrange(0, 256))
_HOSTS = itertools.count(random.randrange(1, 100))


def next_address() -> str:
    """A loopback address no other node of this test run uses."""
    return f"127.{_SUBNET[0]}.{_SUBNET[1]}.{next(_HOSTS) % 254 + 1}"


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


class Node:
    """One simulated control-plane node: certificates, a supervisor, its etcd member."""

    def __init__(
        self, name: str, root: Path, etcd_ca: CertificateAuthority, binaries: EtcdBinaries
    ) -> None:
        self.name = name
        self.root = root
        self.binaries = binaries
        self.address = next_address()
        certs = ensure_etcd_certificates(
            etcd_ca, name, [self.address, "127.0.0.1"], root / "secrets" / "etcd"
        )
        self.member = EtcdMemberConfig(
            name,
            root / "var" / "etcd",
            self.address,
            certs,
            client_port=free_port(self.address),
            peer_port=free_port(self.address),
            extra_args=TEST_EXTRA_ARGS,
        )
        self.listener = RecordingListener()
        self.supervisor = Supervisor(root / "state", self.listener, poll_interval=0.1)
        self.runner = SupervisedEtcd(self.supervisor, binaries, health_interval=0.5)

    def client(self, *others: Node) -> EtcdClient:
        """A client of this node's member (and of ``others``), with the node's client cert."""
        endpoints = [self.member.client_url, *(node.member.client_url for node in others)]
        return EtcdClient(endpoints, self.member.certs.client_tls())

    async def open(self) -> None:
        await self.supervisor.__aenter__()

    async def close(self) -> None:
        await self.supervisor.close()

    async def reboot(self) -> None:
        """A new supervisor on the same state directory, as after the daemon restarted."""
        await self.supervisor.close()
        self.listener = RecordingListener()
        self.supervisor = Supervisor(self.root / "state", self.listener, poll_interval=0.1)
        self.runner = SupervisedEtcd(self.supervisor, self.binaries, health_interval=0.5)
        await self.open()

    def kill_etcd(self) -> int:
        """SIGKILL this node's etcd (by its pid); the pid killed."""
        pid = self.runner.pid
        assert pid is not None, "etcd is not running"
        os.kill(pid, signal.SIGKILL)
        return pid


MakeNode = Callable[[str], Awaitable[Node]]
