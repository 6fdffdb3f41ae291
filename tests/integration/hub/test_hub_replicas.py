"""Two hub processes on one database: one leads, both serve, each reaches the machines the
other holds, a revocation through one cuts a link on the other, and the other takes over when
the leader is killed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hub_helpers import until
from test_hub_machines import write_join_file

from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2
from kiln.machinery.client import Client, resolve
from kiln.resources.pgserver import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HOSTS = ("127.88.2.1", "127.88.2.2")
NODE_HOSTS = ("127.88.2.11", "127.88.2.12")
TAKEOVER = 20.0  # the lock check runs every second; a killed session ends at once


class Pair:
    def __init__(self, hubs: list[HubProcess], nodes: list[NodeProcess]) -> None:
        self.hubs = hubs
        self.nodes = nodes
        self.uuids: list[str] = []


async def replicas(hub: HubProcess) -> list[dict[str, Any]]:
    async with hub.client() as api:
        reply = await api.ListReplicas(hub_pb2.ListRequest())
    return [json.loads(text) for text in reply.resources]


async def leaders(hub: HubProcess) -> list[str]:
    return [r["spec"]["apiAddress"] for r in await replicas(hub) if r["spec"]["leader"]]


async def connected(hub: HubProcess, uuid: str) -> bool:
    async with hub.client() as api:
        reply = await api.ListMachines(hub_pb2.ListRequest(selector="kiln.dev/connected=true"))
    return uuid in {json.loads(text)["metadata"]["id"] for text in reply.resources}


async def start_replicas(root: Path, database: str) -> list[HubProcess]:
    first = HubProcess(root / "a", host=HOSTS[0], database=database)
    await first.start()  # first alone: it makes the PKI and the initial admin key
    second = HubProcess(root / "b", host=HOSTS[1], database=database)
    await second.start()
    second.admin_key = first.admin_key
    return [first, second]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    root = tmp_path_factory.mktemp("replicas")
    hubs = await start_replicas(root, await postgres.new_database("replicas"))
    nodes: list[NodeProcess] = []
    try:
        for i, (hub, host) in enumerate(zip(hubs, NODE_HOSTS, strict=True)):
            async with hub.client() as api:
                token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
            join = write_join_file(root / f"join{i}.yaml", hub.url, token)
            nodes.append(NodeProcess(root / f"n{i}", host=host, hub_join=join))
        await asyncio.gather(*(node.start() for node in nodes))
        made = Pair(hubs, nodes)
        for node in nodes:
            async with Client(resolve(None, endpoints=[node.endpoint], insecure=True)) as direct:
                (hardware,) = await direct.hardware()
            made.uuids.append(hardware.uuid)
        for hub, uuid in zip(hubs, made.uuids, strict=True):
            await until(lambda hub=hub, uuid=uuid: connected(hub, uuid))  # type: ignore[misc]
        yield made
    finally:
        await asyncio.gather(*(node.stop() for node in nodes if node.pid is not None))
        await asyncio.gather(*(hub.stop() for hub in hubs if hub.pid is not None))


async def test_one_replica_leads_and_both_serve_one_identity(pair: Pair) -> None:
    a, b = pair.hubs

    async def both_listed() -> bool:
        return len(await replicas(b)) == 2

    await until(both_listed)
    assert await leaders(a) == [a.address]
    assert await leaders(b) == [a.address]
    assert a.access().ca == b.access().ca  # one server certificate: join tokens pin it


async def test_each_replica_reaches_the_machines_the_other_holds(pair: Pair) -> None:
    a, b = pair.hubs
    for caller, uuid, host in (
        (b, pair.uuids[0], NODE_HOSTS[0]),
        (a, pair.uuids[1], NODE_HOSTS[1]),
    ):
        async with caller.client() as api:
            version = await api.MachineVersion(hub_pb2.MachineRequest(id=uuid))
        assert version.maintenance and version.node == host


async def test_a_revocation_through_one_replica_cuts_the_link_on_the_other(pair: Pair) -> None:
    a, b = pair.hubs
    uuid = pair.uuids[1]  # linked to b
    async with a.client() as api:
        await api.RevokeMachine(hub_pb2.RevokeRequest(id=uuid))

    async def cut() -> bool:
        return not await connected(b, uuid)

    await until(cut)


async def test_the_other_replica_leads_once_the_leader_is_killed(pair: Pair) -> None:
    a, b = pair.hubs
    await a.kill()

    async def b_leads() -> bool:
        return await leaders(b) == [b.address]

    await until(b_leads, within=TAKEOVER)
    await a.start()
    await until(lambda: connected(a, pair.uuids[0]))
    await asyncio.sleep(2)  # a competes for the lock every second: it must not get it
    assert await leaders(a) == [b.address]
    async with b.client() as api:
        version = await api.MachineVersion(hub_pb2.MachineRequest(id=pair.uuids[0]))
    assert version.node == NODE_HOSTS[0]


async def test_replicas_on_one_sqlite_file_take_turns_leading(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.db'}"
    a, b = await start_replicas(tmp_path, database)
    try:
        await until(lambda: _leads(b, a.address))
        await a.stop()
        await until(lambda: _leads(b, b.address), within=TAKEOVER)
    finally:
        await asyncio.gather(*(hub.stop() for hub in (a, b) if hub.pid is not None))


async def _leads(hub: HubProcess, address: str) -> bool:
    return await leaders(hub) == [address]
