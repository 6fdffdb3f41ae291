"""Bootstrap and the etcd calls of the machine API client, mixed into
:class:`~kiln.machinery.client.Client`::

    async with Client(target) as api:
        await api.bootstrap()                                  # once, on one control-plane node
        for listing in await api.etcd_members():
            print([member.hostname for member in listing.members])
        async for chunk in api.etcd_snapshot():
            sink.write(chunk)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from kiln.machinery.api import machine_pb2, machine_pb2_grpc
from kiln.machinery.client.errors import ClientError, check_answers, translate
from kiln.machinery.client.target import Target

_T = TypeVar("_T")

BOOTSTRAP_TIMEOUT = 120.0
"""A bootstrap waits until the new member is healthy; a recovery restores the snapshot first."""
MAX_RECOVER_SNAPSHOT = 16 * 1024 * 1024 - 64 * 1024
"""The largest snapshot a Bootstrap request carries (the node takes messages up to 16 MiB)."""


class EtcdCalls:
    """The etcd calls; the class they are mixed into provides ``machine``, ``node``,
    ``target`` and ``timeout``."""

    timeout: float
    target: Target

    @property
    def machine(self) -> machine_pb2_grpc.MachineServiceAsyncStub:
        raise NotImplementedError

    @property
    def node(self) -> str:
        raise NotImplementedError

    async def bootstrap(
        self,
        *,
        recover_snapshot: bytes | None = None,
        skip_hash_check: bool = False,
        timeout: float = BOOTSTRAP_TIMEOUT,  # noqa: ASYNC109 - a deadline of the call
    ) -> None:
        """Create the etcd cluster on this control-plane node, from a snapshot if given.

        A target naming several nodes is refused before anything is sent: each of them would
        make a cluster of its own."""
        if len(set(self.target.forwarded)) > 1:
            raise ClientError(
                "bootstrap is for exactly one control-plane node; the others join it by "
                f"themselves (this call names {', '.join(self.target.forwarded)}: use -n NODE)",
                node=self.node,
            )
        if recover_snapshot is not None and len(recover_snapshot) > MAX_RECOVER_SNAPSHOT:
            raise ClientError(
                f"the snapshot has {len(recover_snapshot)} bytes; a recovery takes at most "
                f"{MAX_RECOVER_SNAPSHOT}",
                node=self.node,
            )
        request = machine_pb2.BootstrapRequest(
            recover_snapshot=recover_snapshot or b"", recover_skip_hash_check=skip_hash_check
        )
        await self._etcd_call(self.machine.Bootstrap, request, timeout)

    async def etcd_members(self) -> list[machine_pb2.EtcdMembers]:
        reply = await self._etcd_call(
            self.machine.EtcdMemberList, machine_pb2.EtcdMemberListRequest()
        )
        return list(reply.messages)

    async def etcd_remove_member(self, member: str) -> None:
        """Remove a member that is gone for good, by hostname or hex id."""
        request = machine_pb2.EtcdRemoveMemberRequest(member=member)
        await self._etcd_call(self.machine.EtcdRemoveMember, request)

    async def etcd_leave(self) -> None:
        await self._etcd_call(self.machine.EtcdLeaveCluster, machine_pb2.EtcdLeaveClusterRequest())

    async def etcd_forfeit_leadership(self) -> list[machine_pb2.EtcdForfeitLeadership]:
        request = machine_pb2.EtcdForfeitLeadershipRequest()
        reply = await self._etcd_call(self.machine.EtcdForfeitLeadership, request)
        return list(reply.messages)

    async def etcd_status(self) -> list[machine_pb2.EtcdStatus]:
        reply = await self._etcd_call(self.machine.EtcdStatus, machine_pb2.EtcdStatusRequest())
        return list(reply.messages)

    async def etcd_defragment(self) -> None:
        await self._etcd_call(
            self.machine.EtcdDefragment, machine_pb2.EtcdDefragmentRequest(), 300.0
        )

    async def etcd_snapshot(self) -> AsyncGenerator[bytes, None]:
        """The chunks of a snapshot of the cluster, as the node streams them."""
        call: Any = self.machine.EtcdSnapshot(machine_pb2.EtcdSnapshotRequest())
        try:
            async for data in call:
                yield data.bytes
        except grpc.aio.AioRpcError as err:
            raise translate(err, self.node) from None
        finally:
            call.cancel()

    async def _etcd_call(
        self,
        method: Callable[..., Awaitable[_T]],
        request: object,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline of the call
    ) -> _T:
        try:
            reply = await method(request, timeout=timeout or self.timeout)
        except grpc.aio.AioRpcError as err:
            raise translate(err, self.node) from None
        check_answers(reply)  # NodeErrors when forwarded nodes failed
        return reply
