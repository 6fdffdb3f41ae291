"""The life of a service: its states, the moves between them, snapshots and events.

::

    STOPPED ─start─▶ [WAITING] ─▶ [PREPARING] ─▶ STARTING ─▶ RUNNING ─exit─▶ FINISHED | FAILED
                                                                │                   │
                                                              stop       restart policy, backoff
                                                                ▼                   ▼
                                                  STOPPED ◀─ STOPPING       [WAITING] ─▶ ...

WAITING and PREPARING are skipped when there is nothing to wait for or prepare. A stop moves any
state to STOPPED (through STOPPING when a process runs). FINISHED (exit 0) and FAILED are final
unless the restart policy starts the service again after its backoff; meanwhile the message says
when. Every change is reported to a :class:`ServiceListener` as a :class:`ServiceEvent` together
with the new :class:`ServiceStatus`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class ServiceState(StrEnum):
    STOPPED = "stopped"  # loaded, not started, or stopped on request
    WAITING = "waiting"  # for dependencies or conditions; the message says which
    PREPARING = "preparing"  # running the spec's prepare hook
    STARTING = "starting"  # starting the program
    RUNNING = "running"  # the program runs; health is reported separately
    STOPPING = "stopping"  # SIGTERM sent, waiting up to the grace period
    FINISHED = "finished"  # exited with code 0
    FAILED = "failed"  # exited non-zero, was killed, or could not be prepared or started

    @property
    def active(self) -> bool:
        """Whether a process runs or is being started or stopped."""
        return self in (ServiceState.STARTING, ServiceState.RUNNING, ServiceState.STOPPING)


_S = ServiceState
_AFTER_EXIT = frozenset({_S.WAITING, _S.PREPARING, _S.STARTING, _S.STOPPED})

TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    _S.STOPPED: frozenset({_S.WAITING, _S.PREPARING, _S.STARTING}),
    _S.WAITING: frozenset({_S.WAITING, _S.PREPARING, _S.STARTING, _S.FAILED, _S.STOPPED}),
    _S.PREPARING: frozenset({_S.STARTING, _S.FAILED, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILED, _S.STOPPED}),
    _S.RUNNING: frozenset({_S.RUNNING, _S.STOPPING, _S.FINISHED, _S.FAILED}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.FINISHED: _AFTER_EXIT,
    _S.FAILED: _AFTER_EXIT,
}


def can_move(old: ServiceState, new: ServiceState) -> bool:
    """Whether the state machine allows ``old`` → ``new``."""
    return new in TRANSITIONS[old]


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of one service.

    ``healthy`` is None when the service has no health check or none has finished since the
    process started. ``waiting_for`` lists what a WAITING service waits for. ``restarts`` counts
    restarts by the restart policy since the service was loaded. ``since`` is when it entered
    ``state``.
    """

    name: str
    state: ServiceState
    since: datetime
    message: str = ""
    healthy: bool | None = None
    pid: int | None = None
    restarts: int = 0
    exit_code: int | None = None
    waiting_for: tuple[str, ...] = ()

    @property
    def health(self) -> str:
        """``"healthy"``, ``"unhealthy"`` or ``""`` (unknown), as the machine API spells it."""
        if self.healthy is None:
            return ""
        return "healthy" if self.healthy else "unhealthy"


@dataclass(frozen=True)
class ServiceEvent:
    """One change of a service: a new state, a new health or a new message."""

    service: str
    state: ServiceState
    message: str
    timestamp: datetime
    healthy: bool | None = None


class ServiceListener(Protocol):
    """Receives every change; later published as resources and machine events.

    Called synchronously on the event loop, in order: it must not block, and should hand slow
    work to a task of its own. An exception it raises is logged and otherwise ignored.
    """

    def service_changed(self, event: ServiceEvent, status: ServiceStatus) -> None:
        """A service was loaded or changed state, health or message."""
        ...

    def service_removed(self, name: str) -> None:
        """A service was unloaded; forget it."""
        ...


def describe_waiting(reasons: Sequence[str]) -> str:
    """The WAITING message for a list of unmet dependencies and conditions."""
    return "waiting for " + ", ".join(reasons)
