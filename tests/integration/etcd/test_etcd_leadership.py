"""Leadership moves away from a member that forfeits it."""

from __future__ import annotations

import pytest
from etcd_nodes import Node

from kiln.machined.etcd import forfeit_leadership

pytestmark = pytest.mark.integration


async def leader_of(nodes: list[Node]) -> Node:
    status = await nodes[0].client().status()
    by_id = {(await node.client().status()).member_id: node for node in nodes}
    return by_id[status.leader]


async def test_forfeiting_leadership_moves_it_to_another_member(three_nodes: list[Node]) -> None:
    leader = await leader_of(three_nodes)
    followers = [node for node in three_nodes if node is not leader]
    cluster = followers[0].client(*followers[1:])

    assert await forfeit_leadership(cluster, followers[0].member) is None  # not leading

    new_leader_id = await forfeit_leadership(cluster, leader.member)

    assert new_leader_id is not None
    new_leader = await leader_of(three_nodes)
    assert new_leader is not leader
    assert (await new_leader.client().status()).member_id == new_leader_id
    await leader.client().put("still", "writable")
    assert await new_leader.client().get("still") == b"writable"
