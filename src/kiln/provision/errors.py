"""What can go wrong with a local cluster, drawn as a tree::

    KilnError
    └── ProvisionError              a cluster could not be created, inspected or destroyed
        ├── ClusterExistsError      create: a cluster of that name has state already
        ├── ClusterNotFoundError    show/destroy: no cluster of that name
        └── StepError               create: a step failed or ran out of time (names the step)

Errors of the machine API client (:class:`~kiln.machinery.client.ClientError`) and of running
programs (:class:`~kiln.process.ProcessError`) are wrapped in a :class:`StepError` by the step
that met them; the CLI translates them all once.
"""

from __future__ import annotations

from kiln.errors import KilnError


class ProvisionError(KilnError):
    """A local cluster could not be created, inspected or destroyed."""


class ClusterExistsError(ProvisionError):
    """``create`` found state of a cluster with the same name."""


class ClusterNotFoundError(ProvisionError):
    """No cluster of that name under the state root."""


class StepError(ProvisionError):
    """A step of ``create`` failed; ``step`` is its name, ``node`` the node it was at (or "")."""

    def __init__(self, step: str, message: str, *, node: str = "", hint: str = "") -> None:
        self.step = step
        self.node = node
        self.message = message
        self.hint = hint
        where = f"{step} ({node})" if node else step
        first, *rest = message.splitlines() or [""]
        more = f" (and {len(rest)} more lines)" if rest else ""
        super().__init__(f"{where}: {first}{more}")

    def lines(self) -> list[str]:
        where = f"{self.step} ({self.node})" if self.node else self.step
        first, *rest = self.message.splitlines() or [""]
        lines = [f"{where}: {first}", *(f"  {line}" for line in rest)]
        return [*lines, self.hint] if self.hint else lines


class StepRetry(Exception):  # a request, not an error: the step is not done yet
    """Raised by a step that is not done yet: run it again after ``delay`` seconds.

    Not a :class:`KilnError`: it never leaves the step runner. When a step's time is up, the
    last reason becomes the :class:`StepError`.
    """

    def __init__(self, reason: str, delay: float = 0.5) -> None:
        self.reason = reason
        self.delay = delay
        super().__init__(reason)
