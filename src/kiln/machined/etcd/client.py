"""A client of an etcd cluster over etcd's v3 gRPC API, with mutual TLS.

Every call opens a channel to an endpoint (:func:`kiln.machined.etcd.rpc.connect`), makes its
request with the command timeout as deadline and closes the channel. Cluster-wide requests try
the endpoints in order until one takes the request; requests about one member go to that
member's endpoint. Answers become the types of :mod:`kiln.machined.etcd.reports`; failures are
translated once, in :mod:`kiln.machined.etcd.rpc`, into
:class:`~kiln.machined.etcd.errors.EtcdCommandError` and its kinds. The requests are those
etcdctl makes for the same commands, so the answers and their meaning are etcdctl's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc

from kiln.machined.etcd import reports, rpc
from kiln.machined.etcd.api import rpc_pb2, rpc_pb2_grpc
from kiln.machined.etcd.errors import (
    EtcdCommandError,
    EtcdMemberIdTakenError,
    EtcdMemberNotFoundError,
    EtcdUnavailableError,
    EtcdUnreachableError,
)
from kiln.machined.etcd.reports import EndpointHealth, EndpointStatus, Member, MemberAdded
from kiln.machined.etcd.retry import Deadline, retry_temporary
from kiln.machined.etcd.snapshot_file import write_snapshot
from kiln.machined.etcd.tls import EtcdClientTLS

logger = logging.getLogger(__name__)

T = TypeVar("T")
Call = Callable[[grpc.aio.Channel, float], Awaitable[T]]
"""One request on a ready channel, with its deadline in seconds from now."""

HEALTH_KEY = b"health"  # what etcdctl reads to check an endpoint's health
READ_RETRY_WAIT = 0.025  # between attempts of a read etcd could not serve (etcd's client: 25 ms)
MIN_DEADLINE = 0.001


class EtcdClient:
    """etcd's gRPC API at ``endpoints`` (``https://host:port`` client URLs), authenticated
    with ``tls``. ``dial_timeout`` bounds connecting to an endpoint, ``command_timeout`` each
    request."""

    def __init__(
        self,
        endpoints: Sequence[str],
        tls: EtcdClientTLS,
        *,
        dial_timeout: float = 2.0,
        command_timeout: float = 5.0,
    ) -> None:
        if isinstance(endpoints, str) or not endpoints:
            raise ValueError("an etcd client needs a list of one or more endpoints")
        for endpoint in endpoints:
            rpc.target(endpoint)
        self.endpoints = tuple(endpoints)
        self.tls = tls
        self.dial_timeout = dial_timeout
        self.command_timeout = command_timeout

    def __repr__(self) -> str:
        return f"<EtcdClient {','.join(self.endpoints)}>"

    def with_endpoints(self, endpoints: Sequence[str]) -> EtcdClient:
        """The same client talking to other endpoints."""
        return EtcdClient(
            endpoints,
            self.tls,
            dial_timeout=self.dial_timeout,
            command_timeout=self.command_timeout,
        )

    async def _at(
        self,
        what: str,
        endpoint: str,
        call: Call[T],
        command_timeout: float | None = None,
        *,
        read_only: bool = False,
    ) -> T:
        """``call`` through ``endpoint`` within the command timeout. A ``read_only`` call is
        made again while etcd answers that it cannot serve it now (no leader, leader changed,
        request timed out), as etcd's own client does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (command_timeout or self.command_timeout)
        async with rpc.connect(what, endpoint, self.tls, self.dial_timeout) as channel:
            while True:
                try:
                    return await call(channel, max(deadline - loop.time(), MIN_DEADLINE))
                except grpc.aio.AioRpcError as exc:
                    error = rpc.translate(what, endpoint, exc)
                    again = read_only and rpc.retry_read(exc, error)
                    if not again or deadline - loop.time() <= READ_RETRY_WAIT:
                        raise error from exc
                    logger.debug("etcd %s: %s; asking again", what, error.detail)
                await asyncio.sleep(READ_RETRY_WAIT)

    async def _any(self, what: str, call: Call[T], *, read_only: bool = False) -> T:
        """``call`` through the first endpoint that takes it."""
        unreachable: list[EtcdUnreachableError] = []
        for endpoint in self.endpoints:
            try:
                return await self._at(what, endpoint, call, read_only=read_only)
            except EtcdUnreachableError as exc:
                logger.debug("etcd %s: %s; trying the next endpoint", what, exc.detail)
                unreachable.append(exc)
        if len(unreachable) == 1:
            raise unreachable[0]
        detail = "; ".join(exc.detail for exc in unreachable)
        raise EtcdUnreachableError(what, f"no endpoint took the request: {detail}")

    async def member_list(self) -> list[Member]:
        """Every member, voting and learners, started or not."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.MemberListResponse:
            request = rpc_pb2.MemberListRequest(linearizable=True)
            return await rpc_pb2_grpc.ClusterStub(channel).MemberList(request, timeout=seconds)

        answer = await self._any("member list", call, read_only=True)
        return [reports.member_from(member) for member in answer.members]

    async def member_add(
        self, name: str, peer_urls: Sequence[str], *, learner: bool = True
    ) -> MemberAdded:
        """Add a member (a learner by default). The answer holds its id and, through
        :meth:`MemberAdded.initial_cluster`, the ``--initial-cluster`` it must start with."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.MemberAddResponse:
            request = rpc_pb2.MemberAddRequest(peerURLs=list(peer_urls), isLearner=learner)
            return await rpc_pb2_grpc.ClusterStub(channel).MemberAdd(request, timeout=seconds)

        try:
            answer = await self._any("member add", call)
        except EtcdMemberNotFoundError as exc:
            raise EtcdMemberIdTakenError(
                "member add",
                f"{exc.detail} (the new member's id is that of a member removed within the "
                "same second; add it again a second later)",
                exc.stderr_tail,
            ) from exc
        return reports.member_added_from(answer)

    async def member_promote(self, member_id: int, *, retry_for: float = 60.0) -> None:
        """Promote a learner to a voting member. While etcd answers that the learner is not
        in sync with the leader yet (or another temporary error), try again with growing
        delays for up to ``retry_for`` seconds, then raise the last error
        (:class:`EtcdLearnerNotReadyError`). A member that is already voting (an earlier
        attempt went through) counts as promoted."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> object:
            request = rpc_pb2.MemberPromoteRequest(ID=member_id)
            return await rpc_pb2_grpc.ClusterStub(channel).MemberPromote(request, timeout=seconds)

        async def promote() -> None:
            try:
                await self._any("member promote", call)
            except EtcdCommandError as exc:
                if exc.detail == rpc.NOT_A_LEARNER and await self._is_voting(member_id):
                    return
                raise

        await retry_temporary(promote, "member promote", Deadline(retry_for))

    async def _is_voting(self, member_id: int) -> bool:
        members = await self.member_list()
        return any(member.id == member_id and member.voting for member in members)

    async def member_remove(self, member_id: int) -> None:
        """Remove a member; :class:`EtcdMemberNotFoundError` when there is no such member."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> object:
            request = rpc_pb2.MemberRemoveRequest(ID=member_id)
            return await rpc_pb2_grpc.ClusterStub(channel).MemberRemove(request, timeout=seconds)

        await self._any("member remove", call)

    async def status(self, endpoint: str | None = None) -> EndpointStatus:
        """The status of one member, through its own ``endpoint`` (default: the first)."""
        target = endpoint or self.endpoints[0]
        answer = await self._at("endpoint status", target, _status, read_only=True)
        return reports.status_from(target, answer)

    async def statuses(self) -> list[EndpointStatus]:
        """The status of every endpoint that answers; those that do not are left out (all of
        them not answering is an error)."""
        answers = await asyncio.gather(
            *(self.status(endpoint) for endpoint in self.endpoints), return_exceptions=True
        )
        statuses = [answer for answer in answers if isinstance(answer, EndpointStatus)]
        if not statuses:
            raise next(answer for answer in answers if isinstance(answer, BaseException))
        return statuses

    async def endpoint_health(self) -> list[EndpointHealth]:
        """The health of every endpoint, as etcdctl checks it: a linearizable read through
        each one (permission denied counts as healthy: the read went through consensus), and
        no active alarm. Unhealthy endpoints are reported, not raised."""
        return list(await asyncio.gather(*(self._health(ep) for ep in self.endpoints)))

    async def _health(self, endpoint: str) -> EndpointHealth:
        started = time.monotonic()
        took = ""

        async def check(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.AlarmResponse | None:
            """The read, then the alarm list (None: not fetched), over one connection."""
            nonlocal took
            try:
                await _read_health_key(channel, seconds)
            except grpc.aio.AioRpcError as exc:
                if rpc.translate("endpoint health", endpoint, exc).detail != rpc.PERMISSION_DENIED:
                    raise
            took = reports.go_duration(time.monotonic() - started)
            try:
                return await _alarms(channel, seconds)
            except grpc.aio.AioRpcError:
                return None

        try:
            alarms = await self._at("endpoint health", endpoint, check, read_only=True)
        except EtcdCommandError as exc:
            took = reports.go_duration(time.monotonic() - started)
            return EndpointHealth(endpoint=endpoint, health=False, took=took, error=exc.detail)
        if alarms is None:
            error = "Unable to fetch the alarm list"
            return EndpointHealth(endpoint=endpoint, health=False, took=took, error=error)
        if alarms.alarms:
            names = " ".join(rpc_pb2.AlarmType.Name(alarm.alarm) for alarm in alarms.alarms)
            error = f"Active Alarm(s): {names}"
            return EndpointHealth(endpoint=endpoint, health=False, took=took, error=error)
        return EndpointHealth(endpoint=endpoint, health=True, took=took)

    async def move_leader(self, to_id: int) -> None:
        """Make ``to_id`` the leader. The request goes to the current leader, found by asking
        each endpoint in turn whether it leads: the client's endpoints must include its."""
        for endpoint in self.endpoints:
            try:
                status = await self.status(endpoint)
            except EtcdUnavailableError as exc:
                logger.debug("move-leader: %s", exc)
                continue
            if status.is_leader:

                async def call(channel: grpc.aio.Channel, seconds: float) -> object:
                    request = rpc_pb2.MoveLeaderRequest(targetID=to_id)
                    stub = rpc_pb2_grpc.MaintenanceStub(channel)
                    return await stub.MoveLeader(request, timeout=seconds)

                await self._at("move-leader", endpoint, call)
                return
        raise EtcdUnavailableError(
            "move-leader", f"no leader endpoint given at {list(self.endpoints)}"
        )

    async def defragment(self, *, command_timeout: float = 60.0) -> None:
        """Defragment the database of every endpoint, one after the other (each blocks its
        member while it runs); the first failure is raised once all were tried."""
        failures: list[EtcdCommandError] = []
        for endpoint in self.endpoints:
            try:
                await self._at("defrag", endpoint, _defragment, command_timeout)
            except EtcdCommandError as exc:
                logger.warning("etcd defrag of %s failed: %s", endpoint, exc.detail)
                failures.append(exc)
        if failures:
            raise failures[0]

    async def snapshot_save(
        self, path: str | os.PathLike[str], *, command_timeout: float = 300.0
    ) -> None:
        """Save a snapshot of the database, taken from the first endpoint, to ``path``: etcd's
        stream written as it comes (with etcd's integrity hash at its end) to a temporary file
        beside it, synced, then renamed."""
        endpoint = self.endpoints[0]

        async def call(channel: grpc.aio.Channel, seconds: float) -> None:
            stream = rpc_pb2_grpc.MaintenanceStub(channel).Snapshot(
                rpc_pb2.SnapshotRequest(), timeout=seconds
            )
            await write_snapshot((answer.blob async for answer in stream), path)

        await self._at("snapshot save", endpoint, call, command_timeout)

    async def put(self, key: str, value: str) -> None:
        """Write one key (diagnostics and tests; Kubernetes talks to etcd itself)."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> object:
            request = rpc_pb2.PutRequest(key=key.encode(), value=value.encode())
            return await rpc_pb2_grpc.KVStub(channel).Put(request, timeout=seconds)

        await self._any("put", call)

    async def get(self, key: str) -> bytes | None:
        """Read one key (linearizable); None when it does not exist."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.RangeResponse:
            request = rpc_pb2.RangeRequest(key=key.encode())
            return await rpc_pb2_grpc.KVStub(channel).Range(request, timeout=seconds)

        answer = await self._any("get", call, read_only=True)
        return answer.kvs[0].value if answer.kvs else None

    async def try_lock(self, key: str, holder: str, ttl: int) -> int | None:
        """Take the lock ``key`` for ``holder`` unless someone holds it: the lease that holds it
        (it ends after ``ttl`` seconds, or at :meth:`unlock`), or None when it is taken."""

        async def grant(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.LeaseGrantResponse:
            request = rpc_pb2.LeaseGrantRequest(TTL=ttl)
            return await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(request, timeout=seconds)

        granted = await self._any("lease grant", grant)
        if granted.error:
            raise EtcdCommandError("lease grant", granted.error)
        lease = granted.ID

        async def take(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.TxnResponse:
            request = lock_transaction(key, holder, lease)
            return await rpc_pb2_grpc.KVStub(channel).Txn(request, timeout=seconds)

        if (await self._any("lock", take)).succeeded:
            return lease
        await self.unlock(lease)
        return None

    async def unlock(self, lease: int) -> None:
        """Give up a lock taken with :meth:`try_lock` (its lease ends)."""

        async def call(channel: grpc.aio.Channel, seconds: float) -> object:
            request = rpc_pb2.LeaseRevokeRequest(ID=lease)
            return await rpc_pb2_grpc.LeaseStub(channel).LeaseRevoke(request, timeout=seconds)

        await self._any("unlock", call)


def lock_transaction(key: str, holder: str, lease: int) -> rpc_pb2.TxnRequest:
    """If ``key`` was never created (or was deleted), put ``holder`` there under ``lease``."""
    free = rpc_pb2.Compare(
        key=key.encode(),
        target=rpc_pb2.Compare.CREATE,
        result=rpc_pb2.Compare.EQUAL,
        create_revision=0,
    )
    put = rpc_pb2.PutRequest(key=key.encode(), value=holder.encode(), lease=lease)
    return rpc_pb2.TxnRequest(compare=[free], success=[rpc_pb2.RequestOp(request_put=put)])


async def _status(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.StatusResponse:
    stub = rpc_pb2_grpc.MaintenanceStub(channel)
    return await stub.Status(rpc_pb2.StatusRequest(), timeout=seconds)


async def _read_health_key(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.RangeResponse:
    request = rpc_pb2.RangeRequest(key=HEALTH_KEY)
    return await rpc_pb2_grpc.KVStub(channel).Range(request, timeout=seconds)


async def _alarms(channel: grpc.aio.Channel, seconds: float) -> rpc_pb2.AlarmResponse:
    request = rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET)
    return await rpc_pb2_grpc.MaintenanceStub(channel).Alarm(request, timeout=seconds)


async def _defragment(channel: grpc.aio.Channel, seconds: float) -> object:
    stub = rpc_pb2_grpc.MaintenanceStub(channel)
    return await stub.Defragment(rpc_pb2.DefragmentRequest(), timeout=seconds)
