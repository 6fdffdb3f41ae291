"""Helpers of the node daemon tests: a cluster's secrets and configs, clients of every role,
and waiting for a node to get somewhere."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kiln.machined.testing import NodeProcess
from kiln.machinery import client
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.generate import GeneratedConfigs, generate_configs
from kiln.machinery.kilnconfig import Context, issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle

T = TypeVar("T")
TICKER = "ticker=/bin/sh -c 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'"
ETCD_WAITING = "service etcd is waiting"
"""What keeps a control-plane node from being ready until its etcd is bootstrapped."""


class Cluster:
    """A cluster's secrets, its generated configs, and client contexts for any role."""

    def __init__(self, endpoint: str = "https://127.0.0.1:6443") -> None:
        self.bundle = SecretsBundle.generate()
        self.configs: GeneratedConfigs = generate_configs("test", endpoint, self.bundle)
        self._contexts: dict[Role, Context] = {}

    @property
    def controlplane(self) -> MachineConfig:
        return self.configs.controlplane

    def context(self, role: Role = Role.ADMIN) -> Context:
        if role not in self._contexts:
            self._contexts[role] = issue_context(self.bundle.os_ca, role)
        return self._contexts[role]

    def client(self, node: NodeProcess, role: Role = Role.ADMIN) -> client.Client:
        return client.Client(client.resolve(self.context(role), endpoints=[node.endpoint]))


async def served_certificate(node: NodeProcess) -> bytes:
    """The DER certificate the node's API presents (read in the handshake, before the server
    asks this client for a certificate it does not have)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    _, writer = await asyncio.open_connection(node.host, node.port, ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    assert der is not None
    return bytes(der)


def insecure(node: NodeProcess) -> client.Client:
    return client.Client(client.resolve(None, endpoints=[node.endpoint], insecure=True))


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    within: float = 15.0,
    *,
    interval: float = 0.05,
    not_yet: tuple[type[Exception], ...] = (client.ClientError,),
    attempt_within: float = 5.0,
) -> T:
    """Call ``probe`` every ``interval`` seconds until ``check`` holds on its result (errors of
    ``not_yet`` count as "not yet", and so does an attempt that takes over ``attempt_within``:
    a call that reached a node on its way down can hang until that node's server is gone)."""
    last: object = None
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    async with asyncio.timeout(attempt_within):
                        value = await probe()
                    if check(value):
                        return value
                    last = value
                except not_yet as err:
                    last = err
                except TimeoutError:
                    last = f"no answer in {attempt_within:g}s"
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"condition not met in {within:g}s; last: {last!r}") from None


async def machine_status(cluster: Cluster, node: NodeProcess) -> client.NodeResource:
    async with cluster.client(node) as api:
        (found,) = await api.get("machinestatus")
        return found


def running(found: client.NodeResource) -> bool:
    """Whether a machine status says the node runs, ready but for an etcd nobody bootstraps."""
    spec = found.resource.spec
    return spec.stage == "running" and spec.unmet_conditions in ([], [ETCD_WAITING])


async def wait_running(cluster: Cluster, node: NodeProcess) -> client.NodeResource:
    """Until the node answers over mutual TLS with a running machine status (see running)."""
    return await eventually(lambda: machine_status(cluster, node), running)


async def maintenance_version(node: NodeProcess) -> bool:
    async with insecure(node) as api:
        (version,) = await api.version()
        return version.maintenance


async def configure(cluster: Cluster, node: NodeProcess) -> None:
    """Apply the controlplane config to a node in maintenance mode and wait until it runs."""
    await eventually(lambda: maintenance_version(node), bool)
    async with insecure(node) as api:
        await api.apply_configuration(cluster.controlplane.to_yaml().encode())
    await wait_running(cluster, node)


def changed(config: MachineConfig, **machine: object) -> bytes:
    """``config`` with keys of its ``machine`` section replaced (``hostname`` goes under
    ``network``), as YAML bytes to apply."""
    documents = config.to_documents()
    section = documents[0]["machine"]
    for key, value in machine.items():
        if key == "hostname":
            section.setdefault("network", {})["hostname"] = value
        else:
            section[key] = value
    return MachineConfig.from_documents(documents).to_yaml().encode()


async def wait_rebooted(
    cluster: Cluster, node: NodeProcess, before: client.NodeResource
) -> client.NodeResource:
    """Until the node runs a boot newer than the one ``before`` was read from."""
    created = before.resource.metadata.created
    return await eventually(
        lambda: machine_status(cluster, node),
        lambda found: found.resource.metadata.created > created and running(found),
    )


async def hostname(cluster: Cluster, node: NodeProcess) -> str:
    async with cluster.client(node) as api:
        (found,) = await api.get("hostname")
    name: str = found.resource.spec.hostname
    return name
