"""kill -9 loses no acknowledged write: of etcd alone (the supervisor restarts it), and of
a whole node (a new supervisor starts the member again from its data)."""

from __future__ import annotations

import asyncio
import os

import pytest
from etcd_nodes import MakeNode, Node

from kiln.machined.etcd import bootstrap_new_cluster, join_existing_cluster
from kiln.machined.services import ServiceState

pytestmark = pytest.mark.integration

KEYS = 20


async def test_sigkill_of_etcd_keeps_every_acknowledged_write(make_node: MakeNode) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)
    client = node.client()
    for index in range(KEYS):
        await client.put(f"key-{index}", f"value-{index}")

    killed = node.kill_etcd()

    # The supervisor restarts etcd (restart: always) from the same data directory.
    def restarted() -> bool:
        status = node.supervisor.status("etcd")
        return status.restarts == 1 and status.healthy is True

    async with asyncio.timeout(30):
        await node.listener.wait_until(restarted)
    status = node.supervisor.status("etcd")
    assert status.state is ServiceState.RUNNING and status.pid != killed
    for index in range(KEYS):
        assert await client.get(f"key-{index}") == f"value-{index}".encode()


async def test_a_member_killed_with_its_node_comes_back_with_its_data(
    three_nodes: list[Node],
) -> None:
    first, second, third = three_nodes
    for index in range(KEYS):
        await third.client().put(f"before-{index}", str(index))

    killed = third.kill_etcd()
    await third.reboot()  # the daemon starts again on the same state directory
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)
    await first.client().put("while-down", "written")

    again = await join_existing_cluster(first.client(second), third.member, third.runner)

    assert again is not None and again.name == "n3"
    for index in range(KEYS):
        assert await third.client().get(f"before-{index}") == str(index).encode()
    assert await third.client().get("while-down") == b"written"
    assert len(await first.client().member_list()) == 3
