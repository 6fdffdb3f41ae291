"""What a controller gets during one reconcile: a restricted reader and owner-stamped writes.

``ctx.reader`` reads only declared inputs and outputs (by kind: an input with an id lets the
controller read its whole kind, though only changes to that id trigger a reconcile). The write
methods accept only declared outputs and always write as the controller
(``owner=controller.name``). Typed reads take the
spec class: ``await ctx.reader.get(HostnameSpec, "hostname")`` is a ``Resource[HostnameSpec]``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any, TypeVar, overload

from pydantic import BaseModel

from kiln.resources.errors import (
    AlreadyExistsError,
    NotFoundError,
    OwnerConflictError,
    PhaseConflictError,
    ResourceError,
    UndeclaredAccessError,
    VersionConflictError,
)
from kiln.resources.record import encode_spec
from kiln.resources.resource import Kind, Phase, Pointer, Resource, cast_spec
from kiln.resources.selector import Selector
from kiln.resources.state import State

SpecT = TypeVar("SpecT", bound=BaseModel)

#: How often ``modify`` re-reads and retries after a concurrent write changed the resource.
MODIFY_ATTEMPTS = 5


class Reader:
    """get/find/list over the kinds a controller declared (inputs and outputs)."""

    def __init__(self, state: State, controller: str, readable: Collection[Kind]) -> None:
        self._state = state
        self._controller = controller
        self._readable = frozenset(readable)

    @overload
    async def get(self, ptr: Pointer) -> Resource[Any]: ...
    @overload
    async def get(
        self, ptr: type[SpecT], id: str, *, namespace: str | None = None
    ) -> Resource[SpecT]: ...
    async def get(
        self,
        ptr: Pointer | type[SpecT],
        id: str | None = None,  # noqa: A002
        *,
        namespace: str | None = None,
    ) -> Resource[Any]:
        """The resource (NotFoundError if absent); by pointer or by spec class and id."""
        target = self._pointer(ptr, id, namespace)
        resource = await self._state.get(target)
        return resource if isinstance(ptr, Pointer) else cast_spec(resource, ptr)

    @overload
    async def find(self, ptr: Pointer) -> Resource[Any] | None: ...
    @overload
    async def find(
        self, ptr: type[SpecT], id: str, *, namespace: str | None = None
    ) -> Resource[SpecT] | None: ...
    async def find(
        self,
        ptr: Pointer | type[SpecT],
        id: str | None = None,  # noqa: A002
        *,
        namespace: str | None = None,
    ) -> Resource[Any] | None:
        """Like :meth:`get`, but None when the resource does not exist."""
        try:
            if isinstance(ptr, Pointer):
                return await self.get(ptr)
            return await self.get(ptr, id or "", namespace=namespace)
        except NotFoundError:
            return None

    @overload
    async def list(
        self, kind: Kind, selector: Selector | str | None = None
    ) -> builtins.list[Resource[Any]]: ...
    @overload
    async def list(
        self,
        kind: type[SpecT],
        selector: Selector | str | None = None,
        *,
        namespace: str | None = None,
    ) -> builtins.list[Resource[SpecT]]: ...
    async def list(
        self,
        kind: Kind | type[SpecT],
        selector: Selector | str | None = None,
        *,
        namespace: str | None = None,
    ) -> builtins.list[Resource[Any]]:
        """Resources of a kind (or of a spec class's kind), sorted by id."""
        target = kind if isinstance(kind, Kind) else Kind.of(kind, namespace)
        self.check(target, target)
        found = await self._state.list(target, selector)
        return found if isinstance(kind, Kind) else [cast_spec(r, kind) for r in found]

    def check(self, kind: Kind, ref: object) -> None:
        if kind not in self._readable:
            raise UndeclaredAccessError(self._controller, "read", ref)

    def _pointer(
        self, ptr: Pointer | type[BaseModel], id_: str | None, namespace: str | None
    ) -> Pointer:
        if isinstance(ptr, Pointer):
            target = ptr
        else:
            if id_ is None:
                raise TypeError("an id is needed to read by spec class")
            target = Pointer.of(ptr, id_, namespace)
        self.check(target.kind, target)
        return target


class ReconcileContext:
    """One reconcile of one controller: reads, owner-stamped writes, and requeue requests."""

    def __init__(
        self, state: State, controller: str, readable: Collection[Kind], writable: Collection[Kind]
    ) -> None:
        self.controller = controller
        self.reader = Reader(state, controller, [*readable, *writable])
        self._state = state
        self._writable = frozenset(writable)
        self.touched: set[Pointer] = set()  # outputs created, updated or kept by modify
        self.requeue: float | None = None
        # What changed since the last reconcile, for controllers that can work on only that;
        # None: anything may have (the first run, a reopened watch, a failed reconcile).
        self.changed: frozenset[Pointer] | None = None
        self.skipped = False

    def requeue_after(self, seconds: float) -> None:
        """Run this controller again after ``seconds`` even if nothing changes."""
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def skip(self) -> None:
        """Say that nothing in :attr:`changed` concerns this controller: the run did nothing,
        and a requeue an earlier run asked for still falls due when it was to. (A run that
        returns without skipping and without asking for a requeue cancels it.) A requeued run
        is told that anything may have changed."""
        self.skipped = True

    async def create(self, resource: Resource[SpecT]) -> Resource[SpecT]:
        self._check_write(resource.pointer)
        created = await self._state.create(resource, owner=self.controller)
        self.touched.add(resource.pointer)
        return created

    async def update(
        self, resource: Resource[SpecT], *, expected_phase: Phase | None = Phase.RUNNING
    ) -> Resource[SpecT]:
        self._check_write(resource.pointer)
        updated = await self._state.update(
            resource, owner=self.controller, expected_phase=expected_phase
        )
        self.touched.add(resource.pointer)
        return updated

    async def modify(
        self,
        template: Resource[SpecT],
        mutate: Callable[[Resource[SpecT]], None] | None = None,
        *,
        expected_phase: Phase | None = Phase.RUNNING,
    ) -> Resource[SpecT]:
        """Create or update an output so that it matches; skip the write when nothing changes.

        Without ``mutate`` the output gets the template's spec, labels and annotations. With
        ``mutate`` the current resource (or a copy of the template when there is none) is
        passed to it to change in place. Version conflicts are retried with a fresh read.
        """
        ptr = template.pointer
        self._check_write(ptr)
        conflict: ResourceError | None = None
        for _ in range(MODIFY_ATTEMPTS):
            try:
                current: Resource[SpecT] | None = await self._state.get(ptr)
            except NotFoundError:
                current = None
            if current is None:
                candidate = template.copy()
                if mutate is not None:
                    mutate(candidate)
                try:
                    created = await self._state.create(candidate, owner=self.controller)
                except AlreadyExistsError as err:
                    conflict = err
                    continue
                self.touched.add(ptr)
                return created
            if current.metadata.owner != self.controller:  # never adopt someone else's resource
                raise OwnerConflictError(ptr, current.metadata.owner, self.controller)
            if expected_phase is not None and current.metadata.phase is not expected_phase:
                raise PhaseConflictError(ptr, current.metadata.phase, "modify")
            candidate = _desired(current, template, mutate)
            if _same(current, candidate):
                self.touched.add(ptr)
                return current
            try:
                updated = await self._state.update(
                    candidate, owner=self.controller, expected_phase=expected_phase
                )
            except VersionConflictError as err:
                conflict = err
                continue
            self.touched.add(ptr)
            return updated
        assert conflict is not None  # every attempt ended in a conflict
        raise conflict

    async def teardown(self, ptr: Pointer) -> bool:
        """Start tearing down an output; True when no finalizers remain (destroy may follow)."""
        self._check_write(ptr)
        return await self._state.teardown(ptr, owner=self.controller)

    async def destroy(self, ptr: Pointer) -> None:
        self._check_write(ptr)
        await self._state.destroy(ptr, owner=self.controller)

    async def add_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        """Hold a readable resource (usually an input) from destruction; default name: ours."""
        self.reader.check(ptr.kind, ptr)
        return await self._state.add_finalizer(ptr, *(names or (self.controller,)))

    async def remove_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        self.reader.check(ptr.kind, ptr)
        return await self._state.remove_finalizer(ptr, *(names or (self.controller,)))

    async def cleanup_outputs(
        self, kind: Kind | type[BaseModel], *, namespace: str | None = None
    ) -> builtins.list[Pointer]:
        """Remove this controller's outputs of ``kind`` not touched in this reconcile.

        Each is torn down first; it is destroyed once no finalizers hold it (a later reconcile,
        triggered when its finalizers go, finishes the job). Returns the destroyed pointers.
        """
        target = kind if isinstance(kind, Kind) else Kind.of(kind, namespace)
        self._check_write(target)
        destroyed: list[Pointer] = []
        for resource in await self._state.list(target):
            ptr = resource.pointer
            if resource.metadata.owner != self.controller or ptr in self.touched:
                continue
            if await self._state.teardown(ptr, owner=self.controller):
                await self._state.destroy(ptr, owner=self.controller)
                destroyed.append(ptr)
        return destroyed

    def _check_write(self, ref: Pointer | Kind) -> None:
        kind = ref.kind if isinstance(ref, Pointer) else ref
        if kind not in self._writable:
            raise UndeclaredAccessError(self.controller, "write", ref)


def _desired(
    current: Resource[SpecT],
    template: Resource[SpecT],
    mutate: Callable[[Resource[SpecT]], None] | None,
) -> Resource[SpecT]:
    if mutate is None:
        metadata = replace(
            current.metadata,
            labels=dict(template.metadata.labels),
            annotations=dict(template.metadata.annotations),
        )
        return Resource(metadata, template.spec.model_copy(deep=True))
    candidate = current.copy()
    mutate(candidate)
    return candidate


def _same(a: Resource[Any], b: Resource[Any]) -> bool:
    return (
        a.metadata.labels == b.metadata.labels
        and a.metadata.annotations == b.metadata.annotations
        and type(a.spec) is type(b.spec)
        and encode_spec(a.spec) == encode_spec(b.spec)
    )
