"""The service state machine and its snapshots."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from kiln.machined.services import ServiceState, ServiceStatus
from kiln.machined.services.state import TRANSITIONS, can_move, describe_waiting

S = ServiceState


def test_every_state_has_its_moves() -> None:
    assert set(TRANSITIONS) == set(ServiceState)


@pytest.mark.parametrize("state", [s for s in ServiceState if s is not S.RUNNING])
def test_every_state_but_running_can_be_stopped_directly(state: ServiceState) -> None:
    if state is S.STOPPED:
        assert not can_move(state, S.STOPPED)
    else:
        assert can_move(state, S.STOPPED)


def test_a_running_process_is_stopped_through_stopping() -> None:
    assert not can_move(S.RUNNING, S.STOPPED)
    assert can_move(S.RUNNING, S.STOPPING)
    assert TRANSITIONS[S.STOPPING] == {S.STOPPED}


def test_start_path() -> None:
    path = [S.STOPPED, S.WAITING, S.PREPARING, S.STARTING, S.RUNNING, S.FAILED, S.WAITING]
    assert all(can_move(a, b) for a, b in itertools.pairwise(path))
    assert can_move(S.STOPPED, S.STARTING)  # nothing to wait for or prepare
    assert can_move(S.FINISHED, S.STARTING)  # restart after backoff


def test_nothing_runs_without_starting() -> None:
    for state in ServiceState:
        if state not in (S.STARTING, S.RUNNING):
            assert not can_move(state, S.RUNNING)


def test_active_states() -> None:
    assert {s for s in ServiceState if s.active} == {S.STARTING, S.RUNNING, S.STOPPING}


def test_health_words_match_the_machine_api() -> None:
    now = datetime.now(UTC)
    assert ServiceStatus("x", S.RUNNING, now).health == ""
    assert ServiceStatus("x", S.RUNNING, now, healthy=True).health == "healthy"
    assert ServiceStatus("x", S.RUNNING, now, healthy=False).health == "unhealthy"


def test_waiting_message() -> None:
    assert describe_waiting(["service a (stopped)", "file /x"]) == (
        "waiting for service a (stopped), file /x"
    )
