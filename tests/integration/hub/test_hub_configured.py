"""A machine whose applied config holds a HubJoinConfig document joins the hub by itself; the
hub calls its (mutual TLS) API through the connection with a certificate of its cluster, and
streams a service's log, following it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hub_helpers import code_of

from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2
from kiln.machinery.client import Client, MutualTLS, resolve
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.hubjoin import hub_join_document
from kiln.machinery.kilnconfig import issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HOST = "127.88.2.1"
TICKER = "ticker=/bin/sh -c 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'"
WAIT = 45.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(
    hub: HubProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NodeProcess]:
    """A node in maintenance mode, a fresh one for each hub (each database)."""
    root = tmp_path_factory.mktemp("configured")
    async with NodeProcess(root / "node", host=HOST, extra_services=[TICKER]) as started:
        yield started


async def find_machine(hub: HubProcess, hostname: str, stage: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            async with hub.client() as api:
                reply = await api.ListMachines(hub_pb2.ListRequest(selector="kiln.dev/connected"))
            for text in reply.resources:
                found = json.loads(text)
                if found["spec"]["hostname"] == hostname and found["spec"]["stage"] == stage:
                    return found
            await asyncio.sleep(0.2)


async def test_a_config_with_a_hub_join_document_joins_and_its_logs_are_relayed(
    hub: HubProcess, node: NodeProcess
) -> None:
    bundle = SecretsBundle.generate()
    config = generate_configs("hubbed", "https://127.0.0.1:6443", bundle).controlplane
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    documents = [*config.to_documents(), hub_join_document(hub.url, token, "2s")]
    with_join = MachineConfig.from_documents(documents)
    async with Client(resolve(None, endpoints=[node.endpoint], insecure=True)) as direct:
        await direct.apply_configuration(with_join.to_yaml().encode())

    machine = await find_machine(hub, HOST, "running")
    uuid = machine["metadata"]["id"]
    request = hub_pb2.MachineLogsRequest(id=uuid, service="ticker", tail_lines=2, follow=True)
    async with hub.client() as api:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.MachineVersion(hub_pb2.MachineRequest(id=uuid))
        assert code_of(refused.value) is grpc.StatusCode.UNAVAILABLE
        assert "kiln-hub machine credentials" in (refused.value.details() or "")

        tls = MutualTLS.of(issue_context(bundle.os_ca, Role.READER))
        credentials = hub_pb2.MachineCredentialsRequest(
            id=uuid, ca=tls.ca, crt=tls.crt, key=tls.key
        )
        await api.SetMachineCredentials(credentials)
        version = await api.MachineVersion(hub_pb2.MachineRequest(id=uuid))
        assert not version.maintenance

        lines: list[str] = []
        stream = api.MachineLogs(request)
        try:
            async with asyncio.timeout(WAIT):
                async for data in stream:
                    lines.extend(data.bytes.decode().splitlines())
                    if len(lines) >= 5:
                        break
        finally:
            stream.cancel()
    ticks = [int(line.rsplit(" ", 1)[1]) for line in lines if "tick" in line]
    assert len(ticks) >= 5 and ticks == sorted(ticks)  # two kept lines, then new ones

    async with hub.client() as api:
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            bad = hub_pb2.MachineCredentialsRequest(id=uuid, ca=tls.crt, crt=tls.crt, key=b"x")
            await api.SetMachineCredentials(bad)
    assert code_of(invalid.value) is grpc.StatusCode.INVALID_ARGUMENT
