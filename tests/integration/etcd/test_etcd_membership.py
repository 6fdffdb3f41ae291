"""Members join (learner → started → promoted), leave gracefully, rejoin, and dead members
are removed by the others."""

from __future__ import annotations

import asyncio

import pytest
from etcd_nodes import MakeNode, Node

from kiln.machined.etcd import (
    EtcdMemberNotFoundError,
    EtcdStateError,
    bootstrap_new_cluster,
    has_data,
    join_existing_cluster,
    leave_cluster,
    remove_dead_member,
)
from kiln.machined.services import ServiceState

pytestmark = pytest.mark.integration


def voting_names(members: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(m.name for m in members if m.voting and m.started)


async def test_three_members_form_by_joining_at_the_same_time(make_node: MakeNode) -> None:
    first = await make_node("n1")
    await bootstrap_new_cluster(first.member, first.runner)
    await first.client().put("before", "joins")
    second, third = await make_node("n2"), await make_node("n3")

    # etcd 3.5 admits one learner at a time: the later join waits for the earlier one.
    joined = await asyncio.gather(
        join_existing_cluster(first.client(), second.member, second.runner),
        join_existing_cluster(first.client(), third.member, third.runner),
    )

    assert [m.name if m else None for m in joined] == ["n2", "n3"]
    members = await third.client().member_list()
    assert voting_names(members) == ["n1", "n2", "n3"]
    assert not any(m.is_learner for m in members)
    await third.client().put("after", "joins")
    assert await second.client().get("before") == b"joins"
    assert await first.client().get("after") == b"joins"


async def test_join_replaces_a_stale_learner_and_is_idempotent(make_node: MakeNode) -> None:
    first = await make_node("n1")
    await bootstrap_new_cluster(first.member, first.runner)
    second = await make_node("n2")
    cluster = first.client()
    # An earlier join added n2 as a learner, then the node died before etcd started.
    stale = await cluster.member_add("n2", [second.member.peer_url])

    joined = await join_existing_cluster(cluster, second.member, second.runner)

    assert joined is not None and joined.id != stale.member.id
    members = await cluster.member_list()
    assert voting_names(members) == ["n1", "n2"]
    assert stale.member.id not in {m.id for m in members}

    # Joining again with data (a reboot): the same member starts again, nothing is added.
    again = await join_existing_cluster(cluster, second.member, second.runner)
    assert again is not None and again.id == joined.id
    assert [m.id for m in await cluster.member_list()] == [m.id for m in members]
    assert await second.client().get("missing") is None


async def test_leave_removes_the_member_and_wipes_its_data_then_it_rejoins(
    three_nodes: list[Node],
) -> None:
    first, second, third = three_nodes
    await first.client().put("survives", "leave")

    await leave_cluster(third.client(first, second), third.member, third.runner)

    assert voting_names(await first.client().member_list()) == ["n1", "n2"]
    assert not third.member.data_dir.exists()
    assert third.supervisor.status("etcd").state is ServiceState.STOPPED
    await second.client().put("written", "while away")

    await join_existing_cluster(first.client(second), third.member, third.runner)
    assert voting_names(await first.client().member_list()) == ["n1", "n2", "n3"]
    assert await third.client().get("written") == b"while away"
    assert await third.client().get("survives") == b"leave"


async def test_the_last_voting_member_cannot_leave(make_node: MakeNode) -> None:
    node = await make_node("alone")
    await bootstrap_new_cluster(node.member, node.runner)
    with pytest.raises(EtcdStateError, match="only voting member"):
        await leave_cluster(node.client(), node.member, node.runner)
    assert has_data(node.member.data_dir)


async def test_a_dead_member_is_removed_by_the_others(three_nodes: list[Node]) -> None:
    first, second, third = three_nodes
    dead_id = (await third.client().status()).member_id
    third.kill_etcd()
    await third.runner.stop()  # the node is gone: nothing restarts its etcd

    removed = await remove_dead_member(first.client(second), "n3")

    assert removed.id == dead_id
    assert voting_names(await first.client().member_list()) == ["n1", "n2"]
    await second.client().put("quorum", "of two")
    assert await first.client().get("quorum") == b"of two"
    with pytest.raises(EtcdMemberNotFoundError):
        await remove_dead_member(first.client(), removed.hex_id)
