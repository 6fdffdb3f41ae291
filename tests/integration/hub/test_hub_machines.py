"""Real container-mode nodes join a real hub through their outbound connection: inventory with
facts, labels, calls relayed to a machine's API, refused joins, revocation, and reconnection
after the hub is killed and started again."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from hub_helpers import code_of

from kiln.hub.testing import HubProcess
from kiln.machined.hublink.identity import HubIdentity
from kiln.machined.hublink.join import HubJoinError, join
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2
from kiln.machinery.client import Client, resolve
from kiln.machinery.hubjoin import JoinToken, hub_join_document, parse_join_token
from kiln.machinery.privatefile import write_private_file

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

NODE_HOSTS = ("127.88.1.1", "127.88.1.2", "127.88.1.3")
WAIT = 30.0


class Fleet:
    def __init__(self, hub: HubProcess, nodes: list[NodeProcess], token: str) -> None:
        self.hub = hub
        self.nodes = nodes
        self.token = token
        self.uuids: dict[str, str] = {}  # node host -> machine UUID

    async def machines(self, selector: str = "") -> list[dict[str, Any]]:
        async with self.hub.client() as api:
            reply = await api.ListMachines(hub_pb2.ListRequest(selector=selector))
        return [json.loads(text) for text in reply.resources]

    async def wait_selected(self, selector: str, count: int) -> list[dict[str, Any]]:
        """The machines ``selector`` matches, once there are ``count`` of them."""
        async with asyncio.timeout(WAIT):
            while True:
                found = await self.machines(selector)
                if len(found) == count:
                    return found
                await asyncio.sleep(0.1)

    async def wait_connected(self, count: int) -> list[dict[str, Any]]:
        return await self.wait_selected("kiln.dev/connected=true", count)


def write_join_file(path: Path, url: str, token: str) -> Path:
    document = hub_join_document(url, token, reconnect_max_backoff="2s")
    write_private_file(path, json.dumps(document))  # JSON is YAML
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    join_file = write_join_file(root / "hubjoin.yaml", hub.url, token)
    nodes = [
        NodeProcess(root / f"n{i}", host=h, hub_join=join_file) for i, h in enumerate(NODE_HOSTS)
    ]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        made = Fleet(hub, nodes, token)
        for node in nodes:
            target = resolve(None, endpoints=[node.endpoint], insecure=True)
            async with Client(target) as direct:
                (hardware,) = await direct.hardware()
            made.uuids[node.host] = hardware.uuid
        yield made
    finally:
        await asyncio.gather(*(node.stop() for node in nodes if node.pid is not None))


async def test_joined_machines_appear_with_their_facts(fleet: Fleet) -> None:
    machines = await fleet.wait_connected(len(NODE_HOSTS))
    by_id = {m["metadata"]["id"]: m for m in machines}
    assert set(by_id) == set(fleet.uuids.values())
    for host, uuid in fleet.uuids.items():
        spec, labels = by_id[uuid]["spec"], by_id[uuid]["metadata"]["labels"]
        assert spec["hostname"] == host
        assert spec["connected"] and spec["lastSeen"]
        assert spec["stage"] == "maintenance"
        assert spec["cpus"] > 0 and spec["memory"] > 0 and spec["platform"] == "container"
        assert labels["kiln.dev/platform"] == "container"
        assert labels["kiln.dev/stage"] == "maintenance"


async def test_calls_are_relayed_to_the_machine_api(fleet: Fleet) -> None:
    uuid = fleet.uuids[NODE_HOSTS[0]]
    async with fleet.hub.client() as api:
        version = await api.MachineVersion(hub_pb2.MachineRequest(id=uuid))
        assert version.maintenance and version.node == NODE_HOSTS[0] and version.tag
        # The machine's own authorization applies: maintenance mode serves no logs.
        logs = api.MachineLogs(hub_pb2.MachineLogsRequest(id=uuid, service="machined"))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await logs.read()
    assert code_of(refused.value) is grpc.StatusCode.FAILED_PRECONDITION
    assert "maintenance mode" in (refused.value.details() or "")


async def test_labels_select_machines_and_watches_see_them(fleet: Fleet) -> None:
    uuid = fleet.uuids[NODE_HOSTS[1]]
    async with fleet.hub.client() as api:
        watch = api.WatchMachines(hub_pb2.ListRequest(selector="rack=r1"))
        bootstrapped = await watch.read()
        assert bootstrapped.type == "bootstrapped" and not bootstrapped.resource
        await api.LabelMachine(hub_pb2.LabelMachineRequest(id=uuid, set={"rack": "r1"}))
        async with asyncio.timeout(WAIT):
            appeared = await watch.read()
        watch.cancel()
        assert appeared.type == "created"
        assert json.loads(appeared.resource)["metadata"]["id"] == uuid
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            request = hub_pb2.LabelMachineRequest(id=uuid, set={"kiln.dev/stage": "x"})
            await api.LabelMachine(request)
        assert code_of(refused.value) is grpc.StatusCode.INVALID_ARGUMENT
    found = await fleet.wait_selected("rack=r1", 1)
    assert [m["metadata"]["id"] for m in found] == [uuid]
    async with fleet.hub.client() as api:
        await api.LabelMachine(hub_pb2.LabelMachineRequest(id=uuid, remove=["rack"]))
    await fleet.wait_selected("rack=r1", 0)


def kiln_hub(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "kiln.hub", "--config", str(hub.data_dir / "client.yaml")]
    argv += ["--api-key", hub.admin_key, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


async def test_the_cli_lists_labels_and_calls_machines(fleet: Fleet) -> None:
    uuid = fleet.uuids[NODE_HOSTS[0]]
    labelled = await asyncio.to_thread(kiln_hub, fleet.hub, "label", uuid, "tier=edge")
    assert labelled.returncode == 0, labelled.stderr
    await fleet.wait_selected("tier=edge", 1)
    table = await asyncio.to_thread(kiln_hub, fleet.hub, "get", "machines", "-l", "tier=edge")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["ID", "HOSTNAME", "CONNECTED"]
    assert row.split()[:3] == [uuid, NODE_HOSTS[0], "true"]
    version = await asyncio.to_thread(kiln_hub, fleet.hub, "machine", "version", uuid)
    assert version.returncode == 0, version.stderr
    assert "maintenance: true" in version.stdout
    refused = await asyncio.to_thread(kiln_hub, fleet.hub, "logs", uuid)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: the machine answered:")
    assert "maintenance mode" in refused.stderr
    await asyncio.to_thread(kiln_hub, fleet.hub, "label", uuid, "tier-")


async def test_bad_tokens_and_a_claimed_identity_are_refused(fleet: Fleet, tmp_path: Path) -> None:
    async with fleet.hub.client() as api:
        revoked = await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())
        await api.RevokeJoinToken(hub_pb2.RevokeRequest(id=revoked.id))
        short = await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest(expires_seconds=1))
    await asyncio.sleep(1.1)
    good = parse_join_token(fleet.token)
    fresh = "00000000-0000-4000-8000-000000000001"
    cases = [
        (parse_join_token(revoked.token), fresh, "is revoked"),
        (parse_join_token(short.token), fresh, "expired"),
        (JoinToken(good.id, "wrong-secret", good.pin), fresh, "wrong secret"),
        (JoinToken(good.id, good.secret, "A" * 43), fresh, "not the hub the join token names"),
        # Another machine (another secret) presenting a known machine's UUID:
        (good, fleet.uuids[NODE_HOSTS[0]], "joined before with another secret"),
    ]
    for index, (token, uuid, reason) in enumerate(cases):
        with pytest.raises(HubJoinError) as refused:
            await join(fleet.hub.url, token, uuid, HubIdentity(tmp_path / str(index)))
        assert reason in str(refused.value)
        assert refused.value.permanent


async def test_a_revoked_machine_is_cut_off_and_cannot_come_back(fleet: Fleet) -> None:
    uuid = fleet.uuids[NODE_HOSTS[2]]
    async with fleet.hub.client() as api:
        await api.RevokeMachine(hub_pb2.RevokeRequest(id=uuid))
    remaining = await fleet.wait_connected(len(NODE_HOSTS) - 1)
    assert uuid not in {m["metadata"]["id"] for m in remaining}
    await asyncio.sleep(3)  # its link retries within the 2 s backoff cap, and is refused
    (status,) = [m for m in await fleet.machines() if m["metadata"]["id"] == uuid]
    assert not status["spec"]["connected"] and status["spec"]["revoked"]
    assert "refused" in fleet.nodes[2].output()


async def test_machines_reconnect_after_the_hub_is_killed(fleet: Fleet) -> None:
    uuid = fleet.uuids[NODE_HOSTS[0]]
    async with fleet.hub.client() as api:
        await api.LabelMachine(hub_pb2.LabelMachineRequest(id=uuid, set={"keep": "me"}))
    await fleet.hub.kill()
    await fleet.hub.start()
    kept = await fleet.wait_selected("keep=me,kiln.dev/connected=true", 1)
    assert [m["metadata"]["id"] for m in kept] == [uuid]
    machines = await fleet.wait_connected(len(NODE_HOSTS) - 1)
    assert {m["metadata"]["id"] for m in machines} == {fleet.uuids[host] for host in NODE_HOSTS[:2]}
    async with fleet.hub.client() as api:
        version = await api.MachineVersion(hub_pb2.MachineRequest(id=uuid))
    assert version.node == NODE_HOSTS[0]
