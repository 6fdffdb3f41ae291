"""What a service is: the program, what it waits for, how it restarts, how its health shows.

A :class:`ServiceSpec` is immutable; change a service by loading a new spec while it is stopped.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from kiln.machined.services.conditions import Condition
from kiln.machined.services.errors import ServiceSpecError
from kiln.machined.services.health import HealthCheck

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
DEFAULT_LOG_MAX_BYTES = 4 * 1024 * 1024


class RestartPolicy(StrEnum):
    """What happens when the program exits by itself."""

    ALWAYS = "always"  # restart after any exit
    ON_FAILURE = "on-failure"  # restart after a non-zero exit, a signal, or a failed start
    ONCE = "once"  # never restart

    def restarts_after(self, returncode: int | None) -> bool:
        """Whether an exit with ``returncode`` (None: the program did not even start) restarts."""
        if self is RestartPolicy.ALWAYS:
            return True
        if self is RestartPolicy.ON_FAILURE:
            return returncode != 0
        return False


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: ``initial * factor**n`` for the n-th restart in a row, at most
    ``cap``. The count starts again once the service has run (healthy, if it has a health check)
    for ``reset_after`` seconds."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.cap < self.initial or self.factor < 1 or self.reset_after < 0:
            raise ServiceSpecError(
                f"invalid backoff {self}: need 0 <= initial <= cap, factor >= 1, reset_after >= 0"
            )

    def delay(self, attempt: int) -> float:
        """The delay before restart number ``attempt`` (0-based) of a run of failures."""
        if self.initial == 0:
            return 0.0
        # Step by step, so that a long run of failures cannot overflow a float.
        delay = self.initial
        for _ in range(attempt):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)


Prepare = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """One supervised program.

    ``depends_on`` names services that must be RUNNING (and healthy, if they have a health check)
    before this one starts; ``conditions`` must all hold too. ``prepare`` runs before every start
    (write config files, make directories); a :class:`kiln.errors.KilnError` from it fails the
    attempt like a failed start. ``stop_grace`` is how long SIGTERM has before SIGKILL.
    ``log_max_bytes`` caps each of the two log files (current and rotated).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    depends_on: Sequence[str] = ()
    conditions: Sequence[Condition] = ()
    restart: RestartPolicy = RestartPolicy.ON_FAILURE
    backoff: Backoff = field(default_factory=Backoff)
    health: HealthCheck | None = None
    prepare: Prepare | None = None
    stop_grace: float = 10.0
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise ServiceSpecError(
                f"invalid service name {self.name!r}: use 1-64 of a-z, 0-9, '.', '_', '-', "
                "starting and ending with a letter or digit"
            )
        if isinstance(self.argv, str) or not self.argv:
            raise ServiceSpecError(f"service {self.name}: argv must be a non-empty list")
        if isinstance(self.depends_on, str):
            raise ServiceSpecError(f"service {self.name}: depends_on must be a list of names")
        if self.name in self.depends_on:
            raise ServiceSpecError(f"service {self.name} depends on itself")
        if self.stop_grace < 0:
            raise ServiceSpecError(f"service {self.name}: stop_grace must be >= 0")
        if self.log_max_bytes < 1024:
            raise ServiceSpecError(f"service {self.name}: log_max_bytes must be >= 1024")
        # Freeze the collections so a spec cannot change behind the supervisor's back.
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        object.__setattr__(self, "conditions", tuple(self.conditions))
        object.__setattr__(self, "restart", RestartPolicy(self.restart))

    @classmethod
    def waiting(cls, name: str, what: str) -> ServiceSpec:
        """A placeholder for service ``name`` while it cannot be made yet: started, it waits
        for ``what`` (shown in its status) and never runs."""

        async def never() -> bool:
            return False

        return cls(name, [name], conditions=[Condition(what, never)], restart=RestartPolicy.ONCE)
