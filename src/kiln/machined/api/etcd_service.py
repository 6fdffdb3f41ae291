"""The etcd methods of the MachineService and Bootstrap: requests become calls on the node's
etcd member (:class:`~kiln.machined.api.etcd_control.EtcdControl`), answers become protobuf.

A node without a member (a worker) answers every one of them with FAILED_PRECONDITION; errors
are translated by the access interceptor, never here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from kiln.machined.api.control import NodeControl
from kiln.machined.api.etcd_control import NO_MEMBER, NOT_RUNNING, EtcdControl
from kiln.machined.errors import InvalidRequestError, NodeStateError
from kiln.machinery.api import common_pb2, machine_pb2

if TYPE_CHECKING:
    from kiln.machined.etcd import EndpointStatus, Member


class EtcdHandlers:
    """Bootstrap and the Etcd* methods of ``node``."""

    def __init__(self, node: NodeControl) -> None:
        self.node = node

    def _metadata(self) -> common_pb2.Metadata:
        return common_pb2.Metadata(node=self.node.name)

    def _empty(self) -> common_pb2.EmptyResponse:
        return common_pb2.EmptyResponse(messages=[common_pb2.Empty(metadata=self._metadata())])

    def _etcd(self, missing: str = NOT_RUNNING) -> EtcdControl:
        etcd = self.node.etcd
        if etcd is None:
            raise NodeStateError(missing)
        return etcd

    async def bootstrap(self, request: machine_pb2.BootstrapRequest) -> common_pb2.EmptyResponse:
        etcd = self._etcd(f"cannot bootstrap: {NO_MEMBER}")
        if request.recover_skip_hash_check and not request.recover_snapshot:
            raise InvalidRequestError(
                "recover_skip_hash_check applies only to a recovery (recover_snapshot)"
            )
        snapshot = bytes(request.recover_snapshot) or None
        await etcd.bootstrap(snapshot, skip_hash_check=request.recover_skip_hash_check)
        return self._empty()

    async def member_list(self) -> machine_pb2.EtcdMemberListResponse:
        members = [_member(m) for m in await self._etcd().members()]
        listing = machine_pb2.EtcdMembers(metadata=self._metadata(), members=members)
        return machine_pb2.EtcdMemberListResponse(messages=[listing])

    async def remove_member(
        self, request: machine_pb2.EtcdRemoveMemberRequest
    ) -> common_pb2.EmptyResponse:
        if not request.member.strip():
            raise InvalidRequestError("name the member to remove (its hostname or hex id)")
        await self._etcd().remove_member(request.member.strip())
        return self._empty()

    async def leave_cluster(self) -> common_pb2.EmptyResponse:
        await self._etcd().leave()
        return self._empty()

    async def forfeit_leadership(self) -> machine_pb2.EtcdForfeitLeadershipResponse:
        new_leader = await self._etcd().forfeit_leadership()
        answer = machine_pb2.EtcdForfeitLeadership(metadata=self._metadata(), member=new_leader)
        return machine_pb2.EtcdForfeitLeadershipResponse(messages=[answer])

    async def status(self) -> machine_pb2.EtcdStatusResponse:
        found = await self._etcd().status()
        answer = machine_pb2.EtcdStatus(metadata=self._metadata(), member_status=_status(found))
        return machine_pb2.EtcdStatusResponse(messages=[answer])

    async def defragment(self) -> common_pb2.EmptyResponse:
        await self._etcd().defragment()
        return self._empty()

    async def snapshot(self) -> AsyncGenerator[common_pb2.Data, None]:
        etcd = self._etcd()
        metadata = self._metadata()
        async with contextlib.aclosing(etcd.snapshot()) as chunks:
            async for chunk in chunks:
                yield common_pb2.Data(metadata=metadata, bytes=chunk)


def _member(member: Member) -> machine_pb2.EtcdMember:
    return machine_pb2.EtcdMember(
        id=member.id,
        hostname=member.name,
        peer_urls=member.peer_urls,
        client_urls=member.client_urls,
        is_learner=member.is_learner,
    )


def _status(found: EndpointStatus) -> machine_pb2.EtcdMemberStatus:
    body = found.status
    return machine_pb2.EtcdMemberStatus(
        member_id=found.member_id,
        protocol_version=body.version,
        db_size=body.db_size,
        db_size_in_use=body.db_size_in_use,
        leader=body.leader,
        raft_index=body.raft_index,
        raft_term=body.raft_term,
        errors=body.errors,
        is_learner=body.is_learner,
    )
