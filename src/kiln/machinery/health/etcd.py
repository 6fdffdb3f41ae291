"""Health checks of the cluster's etcd, asked of every control-plane node: the same members
everywhere, one per control plane, all voting; each node's member answering without errors;
one leader that all agree on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from kiln.machinery import client
from kiln.machinery.api import machine_pb2
from kiln.machinery.health.checks import Check, Reach, connect


@dataclass(frozen=True)
class EtcdAnswer:
    """What one control-plane node said about etcd (or why it said nothing)."""

    node: str
    members: tuple[machine_pb2.EtcdMember, ...] = ()
    status: machine_pb2.EtcdMemberStatus | None = None
    error: str = ""


async def etcd_checks(context: Reach, controlplanes: Sequence[str]) -> list[Check]:
    """The etcd checks of the cluster whose control-plane nodes are ``controlplanes``."""
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_ask(context, node), name=f"etcd health {node}")
            for node in controlplanes
        ]
    answers = [task.result() for task in tasks]
    checks = [member_check(answer) for answer in answers]
    checks.append(members_check(answers, len(controlplanes)))
    checks.append(leader_check(answers))
    return checks


async def _ask(context: Reach, node: str) -> EtcdAnswer:
    try:
        async with connect(context, node) as api:
            listings = await api.etcd_members()
            statuses = await api.etcd_status()
    except client.ClientError as err:
        return EtcdAnswer(node, error=err.message)
    members = tuple(member for listing in listings for member in listing.members)
    status = statuses[0].member_status if statuses else None
    return EtcdAnswer(node, members, status)


def member_check(answer: EtcdAnswer) -> Check:
    status = answer.status
    if answer.error or status is None:
        return Check("etcd member", answer.node, False, answer.error or "no status")
    if status.errors:
        return Check("etcd member", answer.node, False, "; ".join(status.errors))
    if status.is_learner:
        return Check("etcd member", answer.node, False, f"{status.member_id:x} is a learner")
    if not status.leader:
        return Check("etcd member", answer.node, False, f"{status.member_id:x} has no leader")
    return Check(
        "etcd member",
        answer.node,
        True,
        f"{status.member_id:x}, raft term {status.raft_term}, index {status.raft_index}",
    )


def members_check(answers: Sequence[EtcdAnswer], expected: int) -> Check:
    seen = {
        answer.node: tuple(sorted((m.id, m.hostname, m.is_learner) for m in answer.members))
        for answer in answers
        if not answer.error
    }
    if not seen:
        return Check("etcd members", "", False, "no control-plane node answered")
    if len(set(seen.values())) > 1:
        views = "; ".join(f"{node} sees {_names(view)}" for node, view in seen.items())
        return Check("etcd members", "", False, f"the nodes disagree: {views}")
    (view,) = set(seen.values())
    learners = [name or f"{member_id:x}" for member_id, name, learner in view if learner]
    if learners:
        return Check("etcd members", "", False, f"learners: {', '.join(learners)}")
    if len(view) != expected:
        return Check(
            "etcd members", "", False, f"{len(view)} members ({_names(view)}), expected {expected}"
        )
    plural = "" if len(view) == 1 else "s"
    return Check("etcd members", "", True, f"{len(view)} voting member{plural}: {_names(view)}")


def leader_check(answers: Sequence[EtcdAnswer]) -> Check:
    statuses = [answer.status for answer in answers if answer.status is not None]
    leaders = {status.leader for status in statuses}
    if not statuses or leaders == {0}:
        return Check("etcd leader", "", False, "no member reports a leader")
    if len(leaders) > 1:
        seen = ", ".join(f"{leader:x}" for leader in sorted(leaders))
        return Check("etcd leader", "", False, f"the members disagree on the leader: {seen}")
    (leader,) = leaders
    names = {m.id: m.hostname for answer in answers for m in answer.members}
    if leader not in names:
        return Check("etcd leader", "", False, f"leader {leader:x} is not a member")
    return Check("etcd leader", "", True, names[leader] or f"{leader:x}")


def _names(view: Sequence[tuple[int, str, bool]]) -> str:
    return ", ".join(sorted(name or f"{member_id:x}" for member_id, name, _ in view)) or "none"
