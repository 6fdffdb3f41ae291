"""The State: where resources live. Every backend offers exactly this interface.

Reads hand out copies. Writes are checked (optimistic concurrency on ``metadata.version``, the
owner, the phase, pending finalizers) and each committed write is seen by every matching
watcher, in commit order. Methods are async so that a networked backend (PostgreSQL) fits the
same interface; :class:`~kiln.resources.backend.Backend` implements the rules once on top of
a few storage primitives.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from typing import Any, TypeVar

from pydantic import BaseModel

from kiln.resources.resource import Kind, Phase, Pointer, Resource
from kiln.resources.selector import Selector
from kiln.resources.watch import Watch

SpecT = TypeVar("SpecT", bound=BaseModel)


class State(ABC):
    """Resources by namespace, type and id; see the module docstring for the rules."""

    @abstractmethod
    async def get(self, ptr: Pointer) -> Resource[Any]:
        """The resource at ``ptr``; NotFoundError if there is none."""

    @abstractmethod
    async def list(
        self, kind: Kind, selector: Selector | str | None = None
    ) -> builtins.list[Resource[Any]]:
        """Every resource of ``kind`` whose labels match ``selector``, sorted by id."""

    @abstractmethod
    def watch(self, ptr: Pointer, *, capacity: int | None = None) -> Watch:
        """Watch one resource: CREATED if it exists, BOOTSTRAPPED, then its changes."""

    @abstractmethod
    def watch_kind(
        self, kind: Kind, selector: Selector | str | None = None, *, capacity: int | None = None
    ) -> Watch:
        """Watch a kind: CREATED for each existing match, BOOTSTRAPPED, then changes.

        With a selector, a resource whose labels stop matching is reported DESTROYED and one
        that starts matching CREATED.
        """

    @abstractmethod
    async def create(self, resource: Resource[SpecT], owner: str = "") -> Resource[SpecT]:
        """Store a new resource owned by ``owner`` ("" for the user); return the stored copy.

        The stored copy has version 1, phase running, no finalizers and fresh timestamps.
        AlreadyExistsError if the pointer is taken.
        """

    @abstractmethod
    async def update(
        self,
        resource: Resource[SpecT],
        owner: str = "",
        *,
        expected_phase: Phase | None = Phase.RUNNING,
    ) -> Resource[SpecT]:
        """Replace spec, labels and annotations; return the stored copy (version + 1).

        ``resource.metadata.version`` must be the stored version (VersionConflictError),
        ``owner`` the stored owner (OwnerConflictError) and the stored phase
        ``expected_phase`` unless that is None (PhaseConflictError). Phase and finalizers are
        not changed by an update.
        """

    @abstractmethod
    async def teardown(self, ptr: Pointer, owner: str = "") -> bool:
        """Move the resource to tearing-down (idempotent); True when no finalizers remain."""

    @abstractmethod
    async def add_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        """Add finalizers (anyone may); the version grows only if something was added.

        New finalizers cannot be added to a resource that is tearing down (PhaseConflictError).
        """

    @abstractmethod
    async def remove_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        """Remove finalizers (anyone may); the version grows only if something was removed."""

    @abstractmethod
    async def destroy(self, ptr: Pointer, owner: str = "") -> None:
        """Delete the resource. FinalizersPendingError while finalizers remain."""

    @abstractmethod
    async def close(self) -> None:
        """Release storage; open watches end with ERRORED (StateClosedError)."""
