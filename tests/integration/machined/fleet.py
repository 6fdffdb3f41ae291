"""Helpers of the forwarding and worker-certificate tests: a cluster whose nodes listen on their
own loopback addresses of one /24 with the standard ports (API 50000, trust 50001), as machines
on a network would; the control-plane endpoint is the first address."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
from cryptography import x509
from machined_cluster import Cluster, eventually, insecure, maintenance_version, wait_running

from kiln.machined.node.options import TRUST_PORT
from kiln.machined.testing import NodeProcess
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.kilnconfig import API_PORT
from kiln.machinery.roles import IMPERSONATOR
from kiln.machinery.secrets import Usage

ADDRESSES = range(1, 10)


def random_subnet() -> str:
    """A /24 of loopback addresses whose standard ports are free (another run picks another)."""
    while True:
        subnet = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
        if all(_free(f"{subnet}.{n}", port) for n in ADDRESSES for port in (API_PORT, TRUST_PORT)):
            return subnet


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Fleet(Cluster):
    """A cluster of nodes on ``<subnet>.N``; the control-plane endpoint is ``<subnet>.1``."""

    def __init__(self, root: Path, subnet: str | None = None) -> None:
        super().__init__()
        self.root = root
        self.subnet = subnet or random_subnet()
        self.configs = generate_configs("fleet", f"https://{self.address(1)}:6443", self.bundle)
        self.trust_port = TRUST_PORT

    def address(self, number: int) -> str:
        return f"{self.subnet}.{number}"

    def node(self, number: int, name: str) -> NodeProcess:
        """A node daemon (not started) on ``<subnet>.<number>``."""
        return NodeProcess(
            self.root / name, host=self.address(number), port=API_PORT, trust_port=TRUST_PORT
        )

    async def apply(self, node: NodeProcess, *, worker: bool = False) -> None:
        """Apply the controlplane (or worker) config to a node in maintenance mode."""
        config = self.configs.worker if worker else self.configs.controlplane
        await eventually(lambda: maintenance_version(node), bool)
        async with insecure(node) as api:
            await api.apply_configuration(config.to_yaml().encode())

    async def join(self, node: NodeProcess, *, worker: bool = False) -> None:
        await self.apply(node, worker=worker)
        await wait_running(self, node)

    def impersonator(self) -> grpc.ChannelCredentials:
        """Credentials of a forwarding node: an ``os:impersonator`` client certificate."""
        issued = self.bundle.os_ca.issue(
            "forwarder", Usage.CLIENT, timedelta(days=1), organizations=[IMPERSONATOR]
        )
        ca = self.bundle.os_ca.certificate.pem
        return grpc.ssl_channel_credentials(ca, issued.key.pem, issued.certificate.pem)

    def role_credentials(self, organization: str) -> grpc.ChannelCredentials:
        issued = self.bundle.os_ca.issue(
            organization, Usage.CLIENT, timedelta(days=1), organizations=[organization]
        )
        ca = self.bundle.os_ca.certificate.pem
        return grpc.ssl_channel_credentials(ca, issued.key.pem, issued.certificate.pem)


@contextlib.asynccontextmanager
async def started(*nodes: NodeProcess) -> AsyncIterator[None]:
    """Start the nodes together; stop every one started (by PID) on the way out."""
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        yield
    finally:
        for node in nodes:
            await node.__aexit__(None, None, None)


async def served_certificate(node: NodeProcess) -> x509.Certificate:
    """The certificate the node's API serves now."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    _, writer = await asyncio.open_connection(node.host, node.port, ssl=context)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return x509.load_der_x509_certificate(der)
