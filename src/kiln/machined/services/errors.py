"""Errors of the service supervisor.

::

    KilnError
    └── ServiceError
        ├── ServiceNotFoundError    no service of that name is loaded
        ├── ServiceSpecError        a spec is invalid: bad name or values, a dependency cycle
        ├── ServiceBusyError        the operation does not fit the service's current state
        └── ServiceTimeoutError     a service did not reach the awaited state in time

Failures of the programs themselves are not raised: they become the service's state (FAILED,
with the reason as its message). Programs that cannot be run surface as
:class:`kiln.process.ProcessError` inside that message.
"""

from __future__ import annotations

from kiln.errors import KilnError


class ServiceError(KilnError):
    """Base of service supervisor errors."""


class ServiceNotFoundError(ServiceError):
    """No service of that name is loaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"service {name!r} is not loaded")


class ServiceSpecError(ServiceError):
    """A service spec is invalid, or would make the dependency graph cyclic."""


class ServiceBusyError(ServiceError):
    """The operation does not fit the service's current state (e.g. reloading it while it runs)."""


class ServiceTimeoutError(ServiceError):
    """A service did not reach the awaited state in time; the message says where it is."""
