"""What etcdctl reports, as typed values: members, endpoint status, endpoint health.

etcdctl's JSON (``-w json``) prints member and cluster ids as decimal uint64 numbers (tables
print them in hex); they stay ``int`` here and :func:`hex_id` formats them for people and for
etcdctl's own arguments. Fields etcd leaves empty are omitted from its JSON (``isLearner`` when
false, ``name`` and ``clientURLs`` of a member that has not started yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from kiln.machined.etcd.errors import EtcdCommandError

UINT64 = Annotated[int, Field(ge=0, lt=2**64)]


def hex_id(member_id: int) -> str:
    """A member id as etcd spells it for people and etcdctl arguments: ``8e9e05c52164694d``."""
    return f"{member_id:x}"


def parse_member_id(text: str | int) -> int:
    """A member id from an int or a hex string (as etcdctl tables and Kiln print it)."""
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
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Member(_Report):
    """A cluster member. A member that was added but has not started yet has no name and no
    client URLs."""

    id: UINT64 = Field(alias="ID")
    name: str = ""
    peer_urls: tuple[str, ...] = Field(default=(), alias="peerURLs")
    client_urls: tuple[str, ...] = Field(default=(), alias="clientURLs")
    is_learner: bool = Field(default=False, alias="isLearner")

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


class MemberList(_Report):
    header: ResponseHeader = Field(default_factory=ResponseHeader)
    members: tuple[Member, ...] = ()


class MemberAdded(_Report):
    """The answer to ``member add``: the new member and every member including it."""

    header: ResponseHeader = Field(default_factory=ResponseHeader)
    member: Member
    members: tuple[Member, ...] = ()

    def initial_cluster(self, name: str) -> list[tuple[str, str]]:
        """``(name, peer URL)`` pairs for the new member's ``--initial-cluster``, with ``name``
        for the new member (which has none yet)."""
        pairs: list[tuple[str, str]] = []
        for member in self.members:
            member_name = name if member.id == self.member.id else member.name or member.hex_id
            pairs.extend((member_name, peer_url) for peer_url in member.peer_urls)
        return pairs


class StatusBody(_Report):
    header: ResponseHeader = Field(default_factory=ResponseHeader)
    version: str = ""
    db_size: int = Field(default=0, alias="dbSize")
    db_size_in_use: int = Field(default=0, alias="dbSizeInUse")
    leader: UINT64 = 0
    raft_index: int = Field(default=0, alias="raftIndex")
    raft_term: int = Field(default=0, alias="raftTerm")
    raft_applied_index: int = Field(default=0, alias="raftAppliedIndex")
    is_learner: bool = Field(default=False, alias="isLearner")
    errors: tuple[str, ...] = ()


class EndpointStatus(_Report):
    """One member's view: its id, the leader it follows, raft progress, database size."""

    endpoint: str = Field(alias="Endpoint")
    status: StatusBody = Field(alias="Status")

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


def parse(what: str, output: bytes, kind: Any) -> Any:
    """Parse etcdctl JSON ``output`` as ``kind`` (a model or a list type); an
    :class:`EtcdCommandError` for ``what`` when it is something else."""
    try:
        return TypeAdapter(kind).validate_json(output)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "output"
        raise EtcdCommandError(what, f"unexpected output ({where}: {first['msg']})") from exc


def parse_members(output: bytes) -> list[Member]:
    listing: MemberList = parse("member list", output, MemberList)
    return list(listing.members)


def parse_member_added(output: bytes) -> MemberAdded:
    added: MemberAdded = parse("member add", output, MemberAdded)
    return added


def parse_statuses(output: bytes) -> list[EndpointStatus]:
    statuses: list[EndpointStatus] = parse("endpoint status", output, list[EndpointStatus])
    return statuses


def parse_health(output: bytes) -> list[EndpointHealth]:
    health: list[EndpointHealth] = parse("endpoint health", output, list[EndpointHealth])
    return health


def find_member(members: Sequence[Member], *, peer_url: str) -> Member | None:
    """The member advertising ``peer_url``, or None."""
    return next((member for member in members if peer_url in member.peer_urls), None)
