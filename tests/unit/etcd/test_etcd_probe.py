"""How a member's own status becomes its health."""

from __future__ import annotations

from kiln.machined.etcd.probe import judge


def test_a_member_that_knows_a_leader_is_healthy() -> None:
    result = judge({"leader": "11232072605755283187", "raftIndex": "7"})
    assert result.ok and result.message == "leader 9be056865d7096f3, raft index 7"
    assert "(learner)" in judge({"leader": "1", "isLearner": True}).message


def test_no_leader_or_an_alarm_is_unhealthy() -> None:
    assert not judge({"leader": "0"}).ok
    assert not judge({}).ok
    alarm = judge({"leader": "5", "errors": ["memberID:5 alarm:NOSPACE "]})
    assert not alarm.ok and "NOSPACE" in alarm.message
