"""The etcd members a control-plane node publishes as EtcdMember resources."""

from __future__ import annotations

import asyncio

from kiln.machined.etcd import EtcdUnavailableError, Member
from kiln.machined.node.etcd_publish import EtcdMemberPublisher
from kiln.machinery.resources import EtcdMemberSpec, node_registry
from kiln.resources import InMemoryState, Kind

ONE = Member(id=0xA, name="cp-1", peer_urls=("https://10.0.0.1:2380",))
TWO = Member(id=0xB, peer_urls=("https://10.0.0.2:2380",), is_learner=True)


async def published(state: InMemoryState) -> dict[str, EtcdMemberSpec]:
    return {r.id: r.spec for r in await state.list(Kind.of(EtcdMemberSpec))}


async def test_published_members_follow_the_list() -> None:
    state = InMemoryState(registry=node_registry())
    publisher = EtcdMemberPublisher(state)
    await publisher.publish([ONE, TWO])
    found = await published(state)
    assert sorted(found) == ["a", "b"]
    assert found["a"].hostname == "cp-1" and not found["a"].learner
    assert found["b"].learner and found["b"].hostname == ""

    started = TWO.model_copy(update={"name": "cp-2", "is_learner": False})
    await publisher.publish([started])
    found = await published(state)
    assert list(found) == ["b"] and found["b"].hostname == "cp-2"

    await publisher.publish([])
    assert await published(state) == {}


async def test_following_keeps_the_last_list_while_etcd_does_not_answer() -> None:
    state = InMemoryState(registry=node_registry())
    answers: list[list[Member] | Exception | None] = [[ONE, TWO], None]
    changed = asyncio.Event()
    asked = asyncio.Event()

    async def members() -> list[Member] | None:
        answer = answers.pop(0) if answers else EtcdUnavailableError("member list", "down")
        asked.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    follower = asyncio.create_task(EtcdMemberPublisher(state).follow(members, changed, every=60))
    try:
        for _ in range(3):  # the list, then None, then an error: both keep the list
            await asyncio.wait_for(asked.wait(), 5)
            asked.clear()
            changed.set()
        assert sorted(await published(state)) == ["a", "b"]
    finally:
        follower.cancel()
        await asyncio.wait({follower})
