"""Publishes the members of the cluster's etcd, as this node's member lists them, as
:class:`~kiln.machinery.resources.EtcdMemberSpec` resources (id: the member's hex id), so that
``kilnctl get members`` shows them. An empty list removes them all (the member left)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from kiln.machined.etcd import EtcdError, Member
from kiln.machinery.resources import EtcdMemberSpec
from kiln.machinery.resources.etcd import member as etcd_member
from kiln.resources import Kind, ResourceError, State

OWNER = "etcd.NodeEtcd"
REFRESH = 30.0
logger = logging.getLogger(__name__)


class EtcdMemberPublisher:
    """Keeps the EtcdMember resources of ``state`` equal to the last list published."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def publish(self, members: Sequence[Member]) -> None:
        wanted = {member.hex_id: spec_of(member) for member in members}
        try:
            current = {r.id: r for r in await self._state.list(Kind.of(EtcdMemberSpec))}
            for gone in current.keys() - wanted.keys():
                pointer = current[gone].pointer
                await self._state.teardown(pointer, owner=OWNER)
                await self._state.destroy(pointer, owner=OWNER)
            for member_id, spec in wanted.items():
                found = current.get(member_id)
                if found is None:
                    await self._state.create(etcd_member.new(member_id, spec), owner=OWNER)
                elif found.spec != spec:
                    found.spec = spec
                    await self._state.update(found, owner=OWNER)
        except ResourceError as err:
            logger.warning("cannot publish the etcd members: %s", err)

    async def follow(
        self,
        members: Callable[[], Awaitable[list[Member] | None]],
        changed: asyncio.Event,
        *,
        every: float = REFRESH,
    ) -> None:
        """Publish ``members()`` now, every ``every`` seconds and whenever ``changed`` is set,
        until cancelled. When it cannot list them (None, or an etcd error), the last list
        published stays."""
        while True:
            changed.clear()
            try:
                found = await members()
            except EtcdError as exc:
                logger.debug("cannot list the etcd members: %s", exc)
                found = None
            if found is not None:
                await self.publish(found)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await changed.wait()


def spec_of(member: Member) -> EtcdMemberSpec:
    return EtcdMemberSpec(
        hostname=member.name,
        learner=member.is_learner,
        peer_urls=list(member.peer_urls),
        client_urls=list(member.client_urls),
    )
