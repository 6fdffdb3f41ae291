"""The node's etcd client against a real etcd: cluster-wide calls go on to the next endpoint
when one does not answer, health reports each endpoint, and calls leave no connection open."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from etcd_nodes import MakeNode, free_port

from kiln.machined.etcd import EtcdClient, EtcdUnreachableError, bootstrap_new_cluster

pytestmark = pytest.mark.integration


def open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


async def test_a_call_goes_on_to_the_next_endpoint_when_one_does_not_answer(
    make_node: MakeNode,
) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)
    dead = f"https://{node.address}:{free_port(node.address)}"
    live = node.member.client_url
    client = EtcdClient([dead, live], node.member.certs.client_tls(), dial_timeout=0.5)

    assert [m.name for m in await client.member_list()] == ["solo"]
    await client.put("through", "the second")
    assert await client.get("through") == b"the second"
    assert [s.endpoint for s in await client.statuses()] == [live]
    unhealthy, healthy = await client.endpoint_health()
    assert (unhealthy.endpoint, unhealthy.health) == (dead, False)
    assert "no connection within 0.5s" in unhealthy.error
    assert (healthy.endpoint, healthy.health, healthy.error) == (live, True, "")
    assert healthy.took.endswith("s")

    nobody = client.with_endpoints([dead])
    started = time.monotonic()
    with pytest.raises(EtcdUnreachableError, match=r"no connection within 0\.5s"):
        await nobody.member_list()
    assert time.monotonic() - started < 5


async def test_calls_leave_no_connection_open(make_node: MakeNode) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)
    client = node.client()
    await client.put("warm", "up")
    before = open_files()
    for index in range(30):
        await client.put(f"key{index}", "value")
        await client.status()
    await asyncio.sleep(0.5)  # closed channels release their sockets asynchronously
    assert open_files() <= before + 2
