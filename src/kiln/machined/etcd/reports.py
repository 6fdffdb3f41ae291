"""What etcd answers, as typed values: members, endpoint status, endpoint health.

Made from etcd's gRPC answers (:mod:`kiln.machined.etcd.api`) by the ``*_from`` functions.
Member and cluster ids are uint64 numbers; they stay ``int`` here and :func:`hex_id` formats
them for people. A member that has not started yet has no name and no client URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kiln.machined.etcd.api import rpc_pb2

UINT64 = Annotated[int, Field(ge=0, lt=2**64)]


def hex_id(member_id: int) -> str:
    """A member id as etcd spells it for people: ``8e9e05c52164694d``."""
    return f"{member_id:x}"


def parse_member_id(text: str | int) -> int:
    """A member id from an int or a hex string (as etcd's tools and Kiln print it)."""
    if isinstance(text, int):
        value = text
    else:
        try:
            value = int(text, 16)
        except ValueError:
            raise ValueError(f"{text!r} is not a member id (hex)") from None
    if not 0 < value < 2**64:
        raise ValueError(f"{text!r} is not a member id (uint64)")
    return value


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class Member(_Report):
    """A cluster member. A member that was added but has not started yet has no name and no
    client URLs."""

    id: UINT64
    name: str = ""
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False

    @property
    def hex_id(self) -> str:
        return hex_id(self.id)

    @property
    def started(self) -> bool:
        return bool(self.name)

    @property
    def voting(self) -> bool:
        return not self.is_learner


class ResponseHeader(_Report):
    cluster_id: UINT64 = 0
    member_id: UINT64 = 0
    raft_term: int = 0


class MemberAdded(_Report):
    """The answer to a member add: the new member and every member including it."""

    header: ResponseHeader = Field(default_factory=ResponseHeader)
    member: Member
    members: tuple[Member, ...] = ()

    def initial_cluster(self, name: str) -> list[tuple[str, str]]:
        """``(name, peer URL)`` pairs for the new member's ``--initial-cluster``, as etcdctl
        prints them after ``member add``: every peer URL of every member in the answer, named
        ``name`` for the new member (which has none yet); another member that has not started
        is named by its hex id."""
        pairs: list[tuple[str, str]] = []
        for member in self.members:
            member_name = name if member.id == self.member.id else member.name or member.hex_id
            pairs.extend((member_name, peer_url) for peer_url in member.peer_urls)
        return pairs


class StatusBody(_Report):
    header: ResponseHeader = Field(default_factory=ResponseHeader)
    version: str = ""
    db_size: int = 0
    db_size_in_use: int = 0
    leader: UINT64 = 0
    raft_index: int = 0
    raft_term: int = 0
    raft_applied_index: int = 0
    is_learner: bool = False
    errors: tuple[str, ...] = ()


class EndpointStatus(_Report):
    """One member's view: its id, the leader it follows, raft progress, database size."""

    endpoint: str
    status: StatusBody

    @property
    def member_id(self) -> int:
        return self.status.header.member_id

    @property
    def leader(self) -> int:
        return self.status.leader

    @property
    def is_leader(self) -> bool:
        return self.member_id != 0 and self.member_id == self.status.leader


class EndpointHealth(_Report):
    endpoint: str
    health: bool
    took: str = ""
    error: str = ""


def header_from(header: rpc_pb2.ResponseHeader) -> ResponseHeader:
    return ResponseHeader(
        cluster_id=header.cluster_id, member_id=header.member_id, raft_term=header.raft_term
    )


def member_from(member: rpc_pb2.Member) -> Member:
    return Member(
        id=member.ID,
        name=member.name,
        peer_urls=tuple(member.peerURLs),
        client_urls=tuple(member.clientURLs),
        is_learner=member.isLearner,
    )


def member_added_from(answer: rpc_pb2.MemberAddResponse) -> MemberAdded:
    return MemberAdded(
        header=header_from(answer.header),
        member=member_from(answer.member),
        members=tuple(member_from(member) for member in answer.members),
    )


def status_from(endpoint: str, answer: rpc_pb2.StatusResponse) -> EndpointStatus:
    return EndpointStatus(
        endpoint=endpoint,
        status=StatusBody(
            header=header_from(answer.header),
            version=answer.version,
            db_size=answer.dbSize,
            db_size_in_use=answer.dbSizeInUse,
            leader=answer.leader,
            raft_index=answer.raftIndex,
            raft_term=answer.raftTerm,
            raft_applied_index=answer.raftAppliedIndex,
            is_learner=answer.isLearner,
            errors=tuple(answer.errors),
        ),
    )


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration`` prints it (``1.5s``, ``12.345ms``, ``850µs``), the
    way etcd's tools report how long a health check took."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    for unit, size in (("s", 10**9), ("ms", 10**6), ("µs", 10**3)):
        if nanos >= size:
            whole, part = divmod(nanos, size)
            digits = len(str(size)) - 1
            fraction = f"{part:0{digits}d}".rstrip("0")
            return f"{whole}.{fraction}{unit}" if fraction else f"{whole}{unit}"
    return f"{nanos}ns"


def find_member(members: Sequence[Member], *, peer_url: str) -> Member | None:
    """The member advertising ``peer_url``, or None."""
    return next((member for member in members if peer_url in member.peer_urls), None)
