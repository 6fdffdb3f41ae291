"""Errors of the resource/controller runtime.

::

    KilnError
    └── ResourceError
        ├── NotFoundError            no resource at namespace/type/id
        ├── AlreadyExistsError       create of a resource that exists
        ├── VersionConflictError     a write based on a stale version (expected vs current)
        ├── OwnerConflictError       a write by someone other than the resource's owner
        ├── PhaseConflictError       a write the resource's phase forbids (e.g. tearing down)
        ├── FinalizersPendingError   destroy while finalizers remain (lists them)
        ├── UndeclaredAccessError    a controller read or wrote a type it did not declare
        ├── UnknownTypeError         a resource type no definition is registered for
        ├── RegistrationError        conflicting definitions or controllers
        ├── SelectorError            a label selector that does not parse
        ├── InvalidResourceError     a resource (or a document describing one) is invalid
        ├── StorageError             the storage backend failed (file, schema, database)
        ├── WatchOverflowError       a watcher fell too far behind; its watch ended
        ├── StateClosedError         the state was closed
        └── RequeueError             raised by a controller: run me again after a delay

Messages are one line and name the resource as ``namespace/type/id``.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiln.errors import KilnError


class ResourceError(KilnError):
    """Base of errors raised by the resource/controller runtime."""


class NotFoundError(ResourceError):
    """No resource exists at the pointer."""

    def __init__(self, ref: object) -> None:
        self.ref = str(ref)
        super().__init__(f"resource {self.ref} not found")


class AlreadyExistsError(ResourceError):
    """A create found a resource at the pointer already."""

    def __init__(self, ref: object) -> None:
        self.ref = str(ref)
        super().__init__(f"resource {self.ref} already exists")


class VersionConflictError(ResourceError):
    """A write was based on a version that is no longer the stored one."""

    def __init__(self, ref: object, expected: int, current: int) -> None:
        self.ref = str(ref)
        self.expected = expected
        self.current = current
        super().__init__(
            f"resource {self.ref}: version conflict: "
            f"write is based on version {expected}, current version is {current}"
        )


class OwnerConflictError(ResourceError):
    """Only a resource's owner may write it."""

    def __init__(self, ref: object, owner: str, caller: str) -> None:
        self.ref = str(ref)
        self.owner = owner
        self.caller = caller
        super().__init__(f"resource {self.ref} is owned by {_who(owner)}, not by {_who(caller)}")


class PhaseConflictError(ResourceError):
    """The resource's phase does not allow the write."""

    def __init__(self, ref: object, phase: str, action: str) -> None:
        self.ref = str(ref)
        self.phase = phase
        super().__init__(f"resource {self.ref} is {phase}: cannot {action}")


class FinalizersPendingError(ResourceError):
    """A destroy was refused because finalizers remain."""

    def __init__(self, ref: object, finalizers: Iterable[str]) -> None:
        self.ref = str(ref)
        self.finalizers = tuple(finalizers)
        super().__init__(
            f"resource {self.ref} cannot be destroyed: finalizers pending: "
            + ", ".join(self.finalizers)
        )


class UndeclaredAccessError(ResourceError):
    """A controller accessed a resource type it did not declare as input or output."""

    def __init__(self, controller: str, action: str, ref: object) -> None:
        self.controller = controller
        super().__init__(
            f"controller {controller} cannot {action} {ref}: not declared as "
            + ("an output" if action != "read" else "an input or output")
        )


class UnknownTypeError(ResourceError):
    """No definition is registered for a resource type (or alias)."""

    def __init__(self, type_name: str, detail: str = "") -> None:
        self.type_name = type_name
        super().__init__(f"unknown resource type {type_name!r}" + (f": {detail}" if detail else ""))


class RegistrationError(ResourceError):
    """A definition or controller conflicts with one registered before it."""


class SelectorError(ResourceError):
    """A label selector does not parse."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        super().__init__(f"invalid label selector {text!r}: {reason}")


class InvalidResourceError(ResourceError):
    """A resource, or a dict/YAML/JSON document describing one, is invalid."""


class StorageError(ResourceError):
    """The storage backend failed or holds data this version cannot read."""


class WatchOverflowError(ResourceError):
    """A watcher did not keep up: its queue filled, so its watch ended."""

    def __init__(self, target: object, capacity: int) -> None:
        super().__init__(f"watch on {target} overflowed: more than {capacity} undelivered events")


class StateClosedError(ResourceError):
    """The state was closed; no more reads, writes or watches."""

    def __init__(self) -> None:
        super().__init__("the resource state is closed")


class RequeueError(ResourceError):
    """Raised by a controller's reconcile to be run again after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        self.delay = delay
        self.reason = reason
        super().__init__(f"requeue in {delay:g}s: {reason}")


def _who(owner: str) -> str:
    return f"controller {owner}" if owner else "the user"
