"""Cluster health: which nodes count as control planes and workers, and the etcd checks over
what the control-plane nodes answered."""

from __future__ import annotations

from kiln.machinery.api import machine_pb2
from kiln.machinery.health import HealthTargets
from kiln.machinery.health.etcd import EtcdAnswer, leader_check, member_check, members_check

CP = ("127.66.0.11", "127.66.0.12", "127.66.0.13")


def members(*names: str, learner: str = "") -> tuple[machine_pb2.EtcdMember, ...]:
    return tuple(
        machine_pb2.EtcdMember(id=number, hostname=name, is_learner=name == learner)
        for number, name in enumerate(names, start=1)
    )


def status(member_id: int, leader: int, *errors: str) -> machine_pb2.EtcdMemberStatus:
    return machine_pb2.EtcdMemberStatus(member_id=member_id, leader=leader, errors=errors)


def healthy() -> list[EtcdAnswer]:
    everyone = members("cp-1", "cp-2", "cp-3")
    return [EtcdAnswer(node, everyone, status(n, 1)) for n, node in enumerate(CP, start=1)]


def test_targets_are_the_control_planes_and_the_other_nodes() -> None:
    targets = HealthTargets.of(["a", "b", "a"], ["a", "b", "c", "c", "d"])
    assert targets == HealthTargets(("a", "b"), ("c", "d"))


def test_a_healthy_etcd() -> None:
    answers = healthy()
    assert all(member_check(answer).ok for answer in answers)
    check = members_check(answers, 3)
    assert check.ok and check.reason == "3 voting members: cp-1, cp-2, cp-3"
    leader = leader_check(answers)
    assert leader.ok and leader.reason == "cp-1"


def test_too_few_members_or_a_learner() -> None:
    two = [EtcdAnswer(node, members("cp-1", "cp-2"), status(1, 1)) for node in CP]
    assert members_check(two, 3).reason == "2 members (cp-1, cp-2), expected 3"
    learning = [EtcdAnswer(node, members("cp-1", "cp-2", "cp-3", learner="cp-3")) for node in CP]
    assert members_check(learning, 3).reason == "learners: cp-3"


def test_nodes_that_disagree_or_do_not_answer() -> None:
    answers = healthy()
    answers[2] = EtcdAnswer(CP[2], members("cp-1", "cp-3"), status(3, 1))
    check = members_check(answers, 3)
    assert not check.ok and check.reason.startswith("the nodes disagree: 127.66.0.11 sees")
    down = [EtcdAnswer(node, error="connection refused") for node in CP]
    assert members_check(down, 3).reason == "no control-plane node answered"
    assert member_check(down[0]).reason == "connection refused"
    assert leader_check(down).reason == "no member reports a leader"


def test_member_errors_and_leaders() -> None:
    everyone = members("cp-1", "cp-2", "cp-3")
    alarmed = EtcdAnswer(CP[0], everyone, status(1, 1, "NOSPACE alarm"))
    assert member_check(alarmed).reason == "NOSPACE alarm"
    leaderless = EtcdAnswer(CP[0], everyone, status(1, 0))
    assert member_check(leaderless).reason == "1 has no leader"
    split = [EtcdAnswer(CP[0], everyone, status(1, 1)), EtcdAnswer(CP[1], everyone, status(2, 2))]
    assert leader_check(split).reason == "the members disagree on the leader: 1, 2"
    stranger = [EtcdAnswer(CP[0], everyone, status(1, 9))]
    assert leader_check(stranger).reason == "leader 9 is not a member"
