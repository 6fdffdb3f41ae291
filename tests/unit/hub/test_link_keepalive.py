"""When each end of a machine link pings the other, and when it gives the other up."""

from __future__ import annotations

import pytest

from kiln.machinery.hubjoin.keepalive import TIMEOUT, Due, Liveness


def test_a_side_heard_from_recently_is_not_pinged() -> None:
    liveness = Liveness(30, now=0)
    assert liveness.due(29.9) is Due.NOTHING
    liveness.heard_from(29.9)
    assert liveness.due(59.8) is Due.NOTHING


def test_silence_for_the_interval_brings_one_ping_then_an_unanswered_ping_means_gone() -> None:
    liveness = Liveness(30, now=0)
    assert liveness.due(30) is Due.PING
    assert liveness.due(31) is Due.NOTHING  # one ping in flight, not one per check
    assert liveness.due(30 + TIMEOUT) is Due.NOTHING
    assert liveness.due(30 + TIMEOUT + 0.1) is Due.SILENT


def test_an_answer_clears_the_ping_in_flight() -> None:
    liveness = Liveness(30, now=0)
    assert liveness.due(30) is Due.PING
    liveness.heard_from(35)
    assert liveness.due(60) is Due.NOTHING
    assert liveness.due(65) is Due.PING


def test_a_short_interval_also_shortens_the_wait_for_an_answer() -> None:
    liveness = Liveness(0.5, now=0)
    assert liveness.timeout == 0.5
    assert liveness.due(0.5) is Due.PING
    assert liveness.due(1.1) is Due.SILENT
    assert liveness.tick == 0.125
    assert Liveness(600, now=0).timeout == TIMEOUT


def test_an_interval_too_short_to_be_useful_is_refused() -> None:
    with pytest.raises(ValueError, match=r"under 0\.1 s"):
        Liveness(0.01, now=0)
