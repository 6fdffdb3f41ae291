"""The order of a rolling update: control planes one at a time, then workers by their set's
maxParallelism; locked machines passed over; a pause stops every start."""

from __future__ import annotations

from typing import Any

from kiln.hub.controllers.clusters.rollout import LOCKED, Member, turns


def plane(uuid: str, **state: Any) -> Member:
    return Member(uuid, "control-planes", True, **state)


def worker(uuid: str, set_name: str = "workers", **state: Any) -> Member:
    return Member(uuid, set_name, False, **state)


SETS = {"control-planes": 3, "workers": 2, "gpu": 1}


def test_control_planes_go_one_at_a_time_whatever_their_parallelism() -> None:
    members = [plane("c2", behind=True), plane("c1", behind=True), worker("w1", behind=True)]
    first = turns(members, SETS)
    assert first.admitted == {"c1"}
    assert first.waiting["c2"] == "control planes update one at a time: c1 first"
    assert first.waiting["w1"] == "workers wait for every control plane to take the change"
    busy = [plane("c1", busy=True), plane("c2", behind=True), worker("w1", behind=True)]
    assert turns(busy, SETS).admitted == frozenset()
    second = [plane("c1"), plane("c2", behind=True), worker("w1", behind=True)]
    assert turns(second, SETS).admitted == {"c2"}


def test_workers_go_once_every_control_plane_took_it_at_most_max_parallelism_per_set() -> None:
    members = [
        plane("c1"),
        worker("w1", behind=True),
        worker("w2", behind=True),
        worker("w3", behind=True),
        worker("g1", "gpu", busy=True),
        worker("g2", "gpu", behind=True),
    ]
    found = turns(members, SETS)
    assert found.admitted == {"w1", "w2"}
    assert found.waiting["w3"] == "workers updates are at their maxParallelism"
    assert found.waiting["g2"] == "gpu updates are at their maxParallelism"
    one_busy = [plane("c1"), worker("w1", busy=True), worker("w2", behind=True)]
    assert turns(one_busy, SETS).admitted == {"w2"}


def test_a_locked_machine_is_passed_over_and_holds_nobody_up() -> None:
    members = [plane("c1", behind=True, locked=True), worker("w1", behind=True)]
    found = turns(members, SETS)
    assert found.admitted == {"w1"} and found.waiting["c1"] == LOCKED
    unlocked = turns([plane("c1", behind=True), worker("w1")], SETS)
    assert unlocked.admitted == {"c1"}


def test_a_failed_machine_pauses_the_rollout_until_it_is_lifted() -> None:
    members = [plane("c1", paused="upgrade: refused"), plane("c2", behind=True)]
    members.append(worker("w1", behind=True))
    found = turns(members, SETS)
    assert found.admitted == frozenset() and found.paused == "machine c1: upgrade: refused"
    assert found.waiting["c2"] == "rollout paused: machine c1: upgrade: refused"
    assert not found.allows("w1")


def test_nothing_behind_nothing_admitted() -> None:
    assert turns([plane("c1"), worker("w1")], SETS).admitted == frozenset()
    assert turns([], SETS).paused == ""
