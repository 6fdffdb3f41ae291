"""Many nodes through one endpoint: a control-plane node forwards a call to the nodes it names
(one hop), labels every answer with its node, and the caller's role applies on each node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from fleet import Fleet, started

from kiln.ctl.main import run
from kiln.machined.testing import NodeProcess, free_port
from kiln.machinery import client, forwarding, kilnconfig
from kiln.machinery.api import machine_pb2, machine_pb2_grpc, resource_pb2, resource_pb2_grpc
from kiln.machinery.client import ClientError, NodeErrors
from kiln.machinery.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


class Nodes:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.cp1, self.cp2, self.worker = (
            fleet.node(1, "cp1"),
            fleet.node(2, "cp2"),
            fleet.node(3, "worker"),
        )

    @property
    def all(self) -> list[str]:
        """The nodes as a person names them: addresses, the API on its standard port."""
        return [self.cp1.host, self.cp2.host, self.worker.host]

    def through(
        self, endpoint: NodeProcess, nodes: list[str], role: Role = Role.ADMIN
    ) -> client.Client:
        context = self.fleet.context(role)
        return client.Client(client.resolve(context, endpoints=[endpoint.endpoint], nodes=nodes))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Nodes]:
    """Two control-plane nodes of one cluster (no etcd needed) and a worker."""
    found = Nodes(Fleet(tmp_path_factory.mktemp("forwarding")))
    async with started(found.cp1, found.cp2, found.worker):
        await asyncio.gather(found.fleet.join(found.cp1), found.fleet.join(found.cp2))
        await found.fleet.join(found.worker, worker=True)
        yield found


async def test_one_endpoint_answers_for_every_node(nodes: Nodes) -> None:
    async with nodes.through(nodes.cp1, nodes.all) as api:
        versions = await api.version()
    assert [version.metadata.node for version in versions] == nodes.all
    assert not any(version.maintenance or version.metadata.error for version in versions)


async def test_kilnctl_prints_a_section_per_node(
    nodes: Nodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kilnconfig"
    context = nodes.fleet.context().model_copy(
        update={"endpoints": [nodes.cp1.host], "nodes": nodes.all[:2]}
    )
    kilnconfig.save(kilnconfig.Kilnconfig().add("fleet", context), config)
    args = ["--kilnconfig", str(config)]

    assert await asyncio.to_thread(run, [*args, "version"]) == 0  # the context's nodes
    out = capsys.readouterr().out
    assert out.count("Server:") == 2 and f"Node: {nodes.cp2.host}" in out

    everything = ",".join(nodes.all)
    code = await asyncio.to_thread(run, [*args, "-e", nodes.cp1.host, "-n", everything, "version"])
    assert code == 0
    out = capsys.readouterr().out
    assert [line.split()[-1] for line in out.splitlines() if "Node:" in line] == nodes.all

    down = f"{nodes.fleet.address(9)}:{free_port()}"
    code = await asyncio.to_thread(run, [*args, "-n", f"{nodes.worker.host},{down}", "version"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"Node: {nodes.worker.host}" in captured.out
    assert f"error: {down}: " in captured.err


async def test_kilnctl_get_lists_each_node_of_the_context(
    nodes: Nodes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kilnconfig"
    context = nodes.fleet.context().model_copy(
        update={"endpoints": [nodes.cp1.host], "nodes": nodes.all}
    )
    kilnconfig.save(kilnconfig.Kilnconfig().add("fleet", context), config)
    args = ["--kilnconfig", str(config)]

    assert await asyncio.to_thread(run, [*args, "get", "machinestatus", "-o", "json"]) == 0
    out = capsys.readouterr().out
    assert out.count('"type": "MachineStatus"') == 3
    for node in nodes.all:  # every answer labelled as the context names its node
        assert f'"node": "{node}"' in out

    down = f"{nodes.fleet.address(9)}:{free_port()}"
    code = await asyncio.to_thread(run, [*args, "-n", f"{nodes.cp2.host},{down}", "get", "ms"])
    captured = capsys.readouterr()
    assert code == 1
    rows = [line for line in captured.out.splitlines() if "MachineStatus" in line]
    assert [row.split()[0] for row in rows] == [nodes.cp2.host]
    assert f"error: {down}: " in captured.err


async def test_a_node_that_is_down_is_a_labelled_error(nodes: Nodes) -> None:
    down = f"{nodes.fleet.address(9)}:{free_port()}"
    async with nodes.through(nodes.cp1, [nodes.cp2.host, down]) as api:
        with pytest.raises(NodeErrors) as failed:
            await api.version()
    (answered,) = failed.value.answered
    assert answered.metadata.node == nodes.cp2.host
    (failure,) = failed.value.failures
    assert (failure.node, failure.code) == (down, "UNAVAILABLE")


async def test_streams_are_labelled_and_take_one_node(nodes: Nodes) -> None:
    async with nodes.through(nodes.cp1, [nodes.worker.host]) as api:
        (status,) = await api.get("machinestatus")
        lines = [line async for line in api.logs("machined", tail=3)]
    assert status.node == nodes.worker.host and status.resource.spec.ready
    assert len(lines) == 3
    async with nodes.through(nodes.cp1, nodes.all[1:]) as api:
        with pytest.raises(ClientError) as refused:
            _ = [line async for line in api.logs("machined", tail=3)]
        listed = await api.get("machinestatus")  # the client lists each node in turn
    assert refused.value.code == "INVALID_ARGUMENT"
    assert "one node at a time" in str(refused.value)
    assert sorted(found.node for found in listed) == sorted(nodes.all[1:])


async def test_the_callers_role_applies_on_every_node(nodes: Nodes) -> None:
    worker = [nodes.worker.host]
    async with nodes.through(nodes.cp1, worker, Role.READER) as api:
        with pytest.raises(ClientError) as refused:
            await api.reboot()
        assert refused.value.code == "PERMISSION_DENIED"
        (config,) = await api.get("machineconfig")
        assert "******" in config.resource.spec.model_dump_json()
    async with nodes.through(nodes.cp1, worker, Role.OPERATOR) as api:
        with pytest.raises(NodeErrors) as failed:  # admitted, then the worker answers
            await api.service_action("start", "no-such-service")
    assert failed.value.code == "NOT_FOUND" and failed.value.failures[0].node == worker[0]
    async with nodes.through(nodes.cp1, worker, Role.ADMIN) as api:
        (config,) = await api.get("machineconfig")
    token = nodes.fleet.configs.worker.machine_config.machine.token
    assert token in config.resource.spec.model_dump_json()


async def call_reboot(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...]
) -> grpc.aio.AioRpcError:
    stub = machine_pb2_grpc.MachineServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.Reboot(machine_pb2.RebootRequest(), metadata=metadata, timeout=10)
    return failed.value


FORGED = ((forwarding.FORWARDED, "1"), (forwarding.FORWARDED_ROLE, Role.ADMIN.value))


async def test_the_forwarded_role_is_believed_from_impersonators_only(nodes: Nodes) -> None:
    worker = nodes.worker.endpoint
    async with grpc.aio.secure_channel(worker, nodes.fleet.role_credentials("os:reader")) as ch:
        denied = await call_reboot(ch, FORGED)
        assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "grants os:reader" in (denied.details() or "")
    async with grpc.aio.secure_channel(worker, nodes.fleet.impersonator()) as channel:
        reader = ((forwarding.FORWARDED, "1"), (forwarding.FORWARDED_ROLE, Role.READER.value))
        denied = await call_reboot(channel, reader)
        assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "grants os:reader" in (denied.details() or "")
        bare = await call_reboot(channel, ())
        assert "grants no role" in (bare.details() or "")
        stub = resource_pb2_grpc.ResourceServiceStub(channel)
        request = resource_pb2.GetRequest(type="machinestatus", id="machine")
        answer = await stub.Get(request, metadata=reader, timeout=10)
        assert answer.messages[0].resource.json


async def test_a_forwarded_call_is_not_forwarded_again(nodes: Nodes) -> None:
    loop = (*FORGED, (forwarding.NODES, nodes.worker.host))
    for credentials in (nodes.fleet.impersonator(), nodes.fleet.role_credentials("os:admin")):
        async with grpc.aio.secure_channel(nodes.cp2.endpoint, credentials) as channel:
            refused = await call_reboot(channel, loop)
        assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "one hop" in (refused.details() or "")


async def test_workers_and_maintenance_nodes_do_not_forward(nodes: Nodes, tmp_path: Path) -> None:
    async with nodes.through(nodes.worker, [nodes.cp1.host]) as api:
        with pytest.raises(ClientError) as refused:
            await api.version()
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "only control-plane nodes forward" in str(refused.value)

    async with NodeProcess(tmp_path / "fresh", host=nodes.fleet.address(5)) as fresh:
        target = client.resolve(
            None, endpoints=[fresh.endpoint], nodes=[nodes.cp1.host], insecure=True
        )
        async with client.Client(target) as api:
            with pytest.raises(ClientError) as refused:
                await api.version()
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "maintenance mode" in str(refused.value)
