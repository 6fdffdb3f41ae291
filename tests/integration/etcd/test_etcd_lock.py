"""The etcd lock a control-plane node holds while it applies the cluster manifests: one holder
at a time, free again once given up or once its lease runs out (a holder that died)."""

from __future__ import annotations

import asyncio

import pytest
from etcd_nodes import MakeNode

from kiln.machined.etcd import bootstrap_new_cluster

pytestmark = pytest.mark.integration

KEY = "/kiln/locks/test"


async def test_one_holder_at_a_time_until_given_up_or_expired(make_node: MakeNode) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)
    client = node.client()

    first = await client.try_lock(KEY, "cp-1", ttl=60)
    assert first is not None
    assert await client.get(KEY) == b"cp-1"
    assert await client.try_lock(KEY, "cp-2", ttl=60) is None  # taken
    await client.unlock(first)
    assert await client.get(KEY) is None

    dying = await client.try_lock(KEY, "cp-2", ttl=2)  # its holder never gives it up
    assert dying is not None
    assert await client.try_lock(KEY, "cp-1", ttl=60) is None
    await asyncio.sleep(4)
    assert await client.try_lock(KEY, "cp-1", ttl=60) is not None
