"""How a machine's link and the hub notice that the other side is gone.

Each side pings (a Heartbeat) when it has heard nothing from the other for its interval, and
drops the connection when the ping is not answered within the interval or :data:`TIMEOUT`,
whichever is less: a hub that stops answering (a network cut, a hung process) is left and
dialled again, and a machine powered off is marked disconnected. Any message counts as a
sign of life, so on a busy link nobody pings, and on an idle one the side with the shorter
interval pings and the other only answers.
"""

from __future__ import annotations

import enum

INTERVAL = 30.0
TIMEOUT = 20.0
#: The shortest interval either side may be given.
MIN_INTERVAL = 0.1


class Due(enum.Enum):
    NOTHING = "nothing"
    PING = "ping"
    SILENT = "silent"  # a ping went unanswered: the other side is gone


class Liveness:
    """One side's view of the other: when it last heard from it, and its ping in flight."""

    __slots__ = ("heard", "interval", "pinged", "timeout")

    def __init__(self, interval: float, now: float) -> None:
        if interval < MIN_INTERVAL:
            raise ValueError(f"a keepalive interval of {interval} s is under {MIN_INTERVAL} s")
        self.interval = interval
        self.timeout = min(interval, TIMEOUT)
        self.heard = now
        self.pinged: float | None = None

    def heard_from(self, now: float) -> None:
        self.heard = now
        self.pinged = None

    def due(self, now: float) -> Due:
        """What to do at ``now``; PING also records the ping as sent."""
        if self.pinged is not None:
            return Due.SILENT if now - self.pinged > self.timeout else Due.NOTHING
        if now - self.heard >= self.interval:
            self.pinged = now
            return Due.PING
        return Due.NOTHING

    @property
    def tick(self) -> float:
        return tick(self.interval)


def tick(interval: float) -> float:
    """How often to check a :class:`Liveness` of ``interval`` for it to be on time within a
    quarter interval."""
    return min(1.0, interval / 4)
