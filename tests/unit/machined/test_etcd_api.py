"""The etcd methods of the machine API over a fake node: answers, refusals, error codes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import grpc
import pytest

from kiln.machined.api.etcd_control import NO_MEMBER, NOT_RUNNING
from kiln.machined.api.etcd_service import EtcdHandlers
from kiln.machined.api.status import status_of
from kiln.machined.errors import InvalidRequestError, NodeStateError
from kiln.machined.etcd import (
    EndpointStatus,
    EtcdMemberNotFoundError,
    EtcdStateError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
    Member,
)
from kiln.machined.etcd.reports import ResponseHeader, StatusBody
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client, ClientError, resolve

STATUS = EndpointStatus(
    endpoint="https://127.0.0.1:2379",
    status=StatusBody(
        header=ResponseHeader(member_id=10),
        version="3.5.1",
        db_size=20480,
        leader=10,
        raft_index=7,
        raft_term=2,
    ),
)


class FakeEtcd:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def bootstrap(self, snapshot: bytes | None, *, skip_hash_check: bool = False) -> None:
        self.calls.append(("bootstrap", (snapshot, skip_hash_check)))

    async def members(self) -> list[Member]:
        return [
            Member(id=10, name="cp-1", peer_urls=("https://10.0.0.1:2380",)),
            Member(id=11, peer_urls=("https://10.0.0.2:2380",), is_learner=True),
        ]

    async def remove_member(self, name_or_id: str) -> str:
        self.calls.append(("remove", name_or_id))
        return name_or_id

    async def leave(self) -> None:
        self.calls.append(("leave", None))

    async def forfeit_leadership(self) -> str:
        return "cp-2"

    async def status(self) -> EndpointStatus:
        return STATUS

    async def defragment(self) -> None:
        self.calls.append(("defragment", None))

    async def snapshot(self) -> AsyncGenerator[bytes, None]:
        for chunk in (b"ab", b"cd"):
            yield chunk


class FakeNode:
    name = "cp-1"

    def __init__(self, etcd: FakeEtcd | None) -> None:
        self.etcd = etcd


def handlers(etcd: FakeEtcd | None) -> EtcdHandlers:
    return EtcdHandlers(FakeNode(etcd))  # type: ignore[arg-type]


async def test_members_status_and_snapshot_become_protobuf() -> None:
    api = handlers(FakeEtcd())
    (listing,) = (await api.member_list()).messages
    assert listing.metadata.node == "cp-1"
    assert [(m.id, m.hostname, m.is_learner) for m in listing.members] == [
        (10, "cp-1", False),
        (11, "", True),
    ]
    (status,) = (await api.status()).messages
    assert status.member_status.leader == 10 and status.member_status.protocol_version == "3.5.1"
    assert status.member_status.db_size == 20480
    (forfeit,) = (await api.forfeit_leadership()).messages
    assert forfeit.member == "cp-2"
    assert [data.bytes async for data in api.snapshot()] == [b"ab", b"cd"]


async def test_requests_reach_the_member() -> None:
    etcd = FakeEtcd()
    api = handlers(etcd)
    await api.bootstrap(machine_pb2.BootstrapRequest())
    await api.bootstrap(
        machine_pb2.BootstrapRequest(recover_snapshot=b"db", recover_skip_hash_check=True)
    )
    await api.remove_member(machine_pb2.EtcdRemoveMemberRequest(member=" cp-3 "))
    await api.leave_cluster()
    await api.defragment()
    assert etcd.calls == [
        ("bootstrap", (None, False)),
        ("bootstrap", (b"db", True)),
        ("remove", "cp-3"),
        ("leave", None),
        ("defragment", None),
    ]


async def test_bad_requests_are_refused() -> None:
    api = handlers(FakeEtcd())
    with pytest.raises(InvalidRequestError, match="only to a recovery"):
        await api.bootstrap(machine_pb2.BootstrapRequest(recover_skip_hash_check=True))
    with pytest.raises(InvalidRequestError, match="name the member"):
        await api.remove_member(machine_pb2.EtcdRemoveMemberRequest(member=" "))


async def test_a_node_without_a_member_refuses_every_call() -> None:
    api = handlers(None)
    with pytest.raises(NodeStateError) as refused:
        await api.bootstrap(machine_pb2.BootstrapRequest())
    assert NO_MEMBER in str(refused.value)
    for call in (api.member_list, api.leave_cluster, api.status, api.defragment):
        with pytest.raises(NodeStateError, match=NOT_RUNNING):
            await call()
    with pytest.raises(NodeStateError, match=NOT_RUNNING):
        [data async for data in api.snapshot()]


def test_etcd_errors_become_statuses() -> None:
    assert status_of(EtcdStateError("x"))[0] is grpc.StatusCode.FAILED_PRECONDITION
    assert status_of(EtcdMemberNotFoundError("member remove", "x"))[0] is grpc.StatusCode.NOT_FOUND
    for temporary in (EtcdUnavailableError, EtcdTooManyLearnersError):
        assert status_of(temporary("member add", "x"))[0] is grpc.StatusCode.UNAVAILABLE


async def test_the_client_refuses_to_bootstrap_several_nodes_at_once() -> None:
    target = resolve(None, endpoints=["127.0.0.2"], nodes=["127.0.0.2", "127.0.0.3"], insecure=True)
    with pytest.raises(ClientError, match="exactly one control-plane node"):
        await Client(target).bootstrap()  # refused before it connects
