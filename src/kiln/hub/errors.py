"""Errors of the hub.

::

    KilnError
    └── HubError                    the hub server or its client commands
        ├── UnauthenticatedError    no API key, or one unknown, expired or revoked
        ├── PermissionDeniedError   the key's role may not make the call
        ├── InvalidRequestError     a request (or a command's input) is malformed
        │   └── TemplateError       a cluster template is invalid (every problem, one a line)
        ├── NotFoundError           no such key, token, machine or cluster
        ├── NotReadyError           the cluster is not ready for it yet (not bootstrapped)
        ├── MachineUnavailableError the machine is not connected, or its API did not answer
        └── HubClientError          a call to the hub failed (the client side)
"""

from __future__ import annotations

from kiln.errors import KilnError


class HubError(KilnError):
    """Base of the hub's errors."""


class UnauthenticatedError(HubError):
    pass


class PermissionDeniedError(HubError):
    pass


class InvalidRequestError(HubError):
    pass


class NotFoundError(HubError):
    pass


class NotReadyError(HubError):
    pass


class MachineUnavailableError(HubError):
    pass


class HubClientError(HubError):
    """A call to the hub failed: ``code`` is the gRPC status name ("" if no call was made)."""

    def __init__(self, message: str, code: str = "") -> None:
        self.code = code
        super().__init__(message)

    def lines(self) -> list[str]:
        return str(self).splitlines() or [""]


class TemplateError(InvalidRequestError):
    """A cluster template is invalid: every problem found, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {problem}" for problem in self.problems]
