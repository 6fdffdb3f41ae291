"""How a node's etcd member comes and goes: bootstrap, restart, join, leave, and the removal
of a dead member or hand-over of leadership on behalf of the cluster.

Each procedure takes what it needs explicitly: the member's config, an
:class:`~kiln.machined.etcd.service.EtcdRunner` for this node's etcd, and an
:class:`~kiln.machined.etcd.client.EtcdClient` of the cluster (endpoints of members other
than this node where it matters). A member is identified by its peer URL, which is what etcd
itself matches on.

::

    bootstrap_new_cluster   first control-plane node: a new cluster of itself
    start_member            any later boot: start from the data directory
    join_existing_cluster   other control-plane nodes: learner → started → promoted
    leave_cluster           reset: hand over leadership, remove self, stop, wipe data
    remove_dead_member      on behalf of the cluster: drop a member that is gone for good
    forfeit_leadership      move the leadership from this member to another one
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kiln.machined.etcd.client import EtcdClient
from kiln.machined.etcd.config import ClusterState, EtcdMemberConfig
from kiln.machined.etcd.datadir import has_data, wipe_data_dir
from kiln.machined.etcd.errors import (
    EtcdMemberNotFoundError,
    EtcdStateError,
    EtcdUnavailableError,
)
from kiln.machined.etcd.reports import Member, find_member, parse_member_id
from kiln.machined.etcd.retry import Deadline, retry_temporary
from kiln.machined.etcd.service import EtcdRunner

logger = logging.getLogger(__name__)


async def bootstrap_new_cluster(
    member: EtcdMemberConfig,
    runner: EtcdRunner,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109 - the error says where it got stuck
) -> None:
    """Create a new cluster whose only member is this one, and wait until it is healthy.

    Done once per cluster: an :class:`EtcdStateError` if the data directory already holds a
    member's data (use :func:`start_member` after a reboot).
    """
    if has_data(member.data_dir):
        raise EtcdStateError(
            f"etcd data directory {member.data_dir} already holds a member's data; "
            "a cluster is bootstrapped only once"
        )
    logger.info("bootstrapping a new etcd cluster with member %s", member.name)
    await runner.start(member.joining((), ClusterState.NEW), timeout=timeout)


async def start_member(
    member: EtcdMemberConfig,
    runner: EtcdRunner,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109 - the error says where it got stuck
    healthy: bool = False,
) -> None:
    """Start this member from its data directory, e.g. after a reboot or crash.

    Waits only until etcd runs unless ``healthy``: after a whole cluster went down, health
    returns only once enough members are back. :class:`EtcdStateError` without data.
    """
    if not has_data(member.data_dir):
        raise EtcdStateError(f"etcd data directory {member.data_dir} holds no member's data")
    await runner.start(member.joining((), ClusterState.EXISTING), timeout=timeout, healthy=healthy)


async def join_existing_cluster(
    existing: EtcdClient,
    member: EtcdMemberConfig,
    runner: EtcdRunner,
    *,
    timeout: float = 120.0,  # noqa: ASYNC109 - a budget shared by the steps
) -> Member | None:
    """Make this node a voting member of the cluster ``existing`` reaches; its member entry
    when known.

    Fresh node: add it as a learner through ``existing`` (waiting while another learner is
    joining), start etcd with the cluster etcd returned, then promote it once it has caught
    up. A stale entry with this node's peer URL (an earlier join that never started, or a node
    that lost its disk) is removed first.

    Idempotent: with data from an earlier run, etcd is started from it (and promoted if it
    is still a learner). If the cluster answers and no longer lists this member, the stale
    data is wiped and the node joins afresh; if the cluster does not answer (a whole cluster
    restarting), etcd starts from its data and None is returned.
    """
    deadline = Deadline(timeout)
    if has_data(member.data_dir):
        try:
            members: list[Member] | None = await existing.member_list()
        except EtcdUnavailableError as exc:
            logger.info(
                "etcd cluster not reachable (%s); starting %s from its data", exc, member.name
            )
            members = None
        me = find_member(members, peer_url=member.peer_url) if members is not None else None
        if members is None or me is not None:
            await start_member(
                member, runner, timeout=deadline.budget(), healthy=members is not None
            )
            if me is not None and me.is_learner:
                await existing.member_promote(me.id, retry_for=deadline.budget())
            return me
        logger.warning(
            "etcd member %s was removed from the cluster; wiping its old data to join again",
            member.name,
        )
        await runner.stop()
        await wipe_data_dir(member.data_dir)

    members = await existing.member_list()
    stale = find_member(members, peer_url=member.peer_url)
    if stale is not None:
        logger.warning(
            "removing stale etcd member %s (%s) with this node's peer URL %s",
            stale.hex_id,
            stale.name or "never started",
            member.peer_url,
        )
        await retry_temporary(
            lambda: existing.member_remove(stale.id), "remove stale member", deadline
        )
    added = await retry_temporary(
        lambda: existing.member_add(member.name, [member.peer_url], learner=True),
        f"add {member.name} as learner",
        deadline,
    )
    logger.info("etcd member %s added as learner %s", member.name, added.member.hex_id)
    joining = member.joining(added.initial_cluster(member.name), ClusterState.EXISTING)
    await runner.start(joining, timeout=deadline.budget())
    await existing.member_promote(added.member.id, retry_for=deadline.budget())
    logger.info("etcd member %s promoted to a voting member", member.name)
    return added.member.model_copy(update={"name": member.name, "is_learner": False})


async def leave_cluster(
    client: EtcdClient,
    member: EtcdMemberConfig,
    runner: EtcdRunner,
    *,
    timeout: float = 60.0,  # noqa: ASYNC109 - a budget shared by the steps
) -> None:
    """Leave the cluster gracefully: hand over leadership if this member leads, remove it
    through the other members, stop etcd and wipe its data directory.

    etcd refuses to remove a voting member while fewer than a quorum of the others has been
    connected for its health interval (5 s); that refusal is retried within ``timeout``.

    ``client`` must reach the cluster (best: every member's endpoint). The only voting
    member cannot leave (:class:`EtcdStateError`): that would end the cluster. A node that is
    not a member any more just stops etcd and wipes its data.
    """
    members = await client.member_list()
    me = find_member(members, peer_url=member.peer_url)
    if me is None:
        logger.info("etcd member %s is not in the cluster; stopping and wiping it", member.name)
    else:
        voting_others = [m for m in members if m.id != me.id and m.voting and m.started]
        if me.voting and not voting_others:
            raise EtcdStateError(
                f"etcd member {member.name} is the only voting member of its cluster and "
                "cannot leave it (reset without leaving instead)"
            )
        if me.voting:
            await _hand_over_leadership(client, member, me, members)
        remover = client.with_endpoints(client_urls(voting_others)) if voting_others else client
        try:
            await retry_temporary(
                lambda: remover.member_remove(me.id), "leave the cluster", Deadline(timeout)
            )
        except EtcdMemberNotFoundError:
            logger.info("etcd member %s was removed meanwhile", me.hex_id)
        logger.info("etcd member %s (%s) left the cluster", member.name, me.hex_id)
    await runner.stop()
    await wipe_data_dir(member.data_dir)


async def remove_dead_member(client: EtcdClient, name_or_id: str | int) -> Member:
    """Remove the member named ``name_or_id`` (or with that id, an int or hex) on behalf of
    the cluster, e.g. a node that is gone for good; the member removed.

    The request goes through the remaining voting members. Removing a member that still runs
    makes its etcd stop; use :func:`leave_cluster` on a node that is alive.
    """
    members = await client.member_list()
    target = _match(members, name_or_id)
    rest = [m for m in members if m.id != target.id and m.voting and m.started]
    remover = client.with_endpoints(client_urls(rest)) if rest else client
    await remover.member_remove(target.id)
    logger.info("removed etcd member %s (%s)", target.name or "never started", target.hex_id)
    return target


async def forfeit_leadership(client: EtcdClient, member: EtcdMemberConfig) -> int | None:
    """If this member leads, move the leadership to the most caught-up other voting member;
    the new leader's id, or None when this member was not leading."""
    members = await client.member_list()
    me = find_member(members, peer_url=member.peer_url)
    if me is None:
        raise EtcdMemberNotFoundError(
            "forfeit leadership", f"no member with peer URL {member.peer_url}"
        )
    return await _hand_over_leadership(client, member, me, members)


def client_urls(members: Iterable[Member]) -> list[str]:
    return [url for member in members for url in member.client_urls]


async def _hand_over_leadership(
    client: EtcdClient, member: EtcdMemberConfig, me: Member, members: list[Member]
) -> int | None:
    try:
        status = await client.status(member.local_client_url)
    except EtcdUnavailableError:
        return None  # not running here, so not leading
    if not status.is_leader:
        return None
    candidates = [m for m in members if m.id != me.id and m.voting and m.started]
    if not candidates:
        raise EtcdStateError(
            f"etcd member {member.name} is the only voting member; nobody can take over"
        )
    target = await _most_caught_up(client, candidates)
    # move_leader asks each endpoint in turn whether it leads: this member's comes first.
    mover = client.with_endpoints([member.local_client_url, *client_urls(candidates)])
    await mover.move_leader(target.id)
    logger.info("etcd leadership moved from %s to %s", me.hex_id, target.hex_id)
    return target.id


async def _most_caught_up(client: EtcdClient, candidates: list[Member]) -> Member:
    statuses = await client.with_endpoints(client_urls(candidates)).statuses()
    applied = {status.member_id: status.status.raft_applied_index for status in statuses}
    answering = [m for m in candidates if m.id in applied]
    if not answering:
        raise EtcdUnavailableError(
            "move-leader", "none of the other voting members answers; nobody can take over"
        )
    return max(answering, key=lambda m: applied[m.id])


def _match(members: list[Member], name_or_id: str | int) -> Member:
    if isinstance(name_or_id, str):
        named = [m for m in members if m.name == name_or_id]
        if len(named) > 1:
            raise EtcdStateError(
                f"{len(named)} etcd members are named {name_or_id!r}; remove one by its id"
            )
        if named:
            return named[0]
    try:
        wanted = parse_member_id(name_or_id)
    except ValueError:
        wanted = None
    for m in members:
        if m.id == wanted:
            return m
    raise EtcdMemberNotFoundError("member remove", f"no member named or with id {name_or_id!r}")
