"""The node's State: durable namespaces in SQLite (``state.db``), the rest in memory.

:class:`NamespacedState` routes every call by namespace, so controllers and the API see one
State while :data:`~kiln.machinery.resources.namespaces.DURABLE_NAMESPACES` survive restarts.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from kiln.machinery.resources import namespaces
from kiln.resources import (
    InMemoryState,
    Kind,
    Phase,
    Pointer,
    Registry,
    Resource,
    Selector,
    SqliteState,
    State,
    Watch,
)

SpecT = TypeVar("SpecT", bound=BaseModel)

STATE_FILE = "state.db"


class NamespacedState(State):
    """A State made of others: ``routes`` by namespace, ``default`` for every other one."""

    def __init__(self, default: State, routes: Mapping[str, State]) -> None:
        self._default = default
        self._routes = dict(routes)

    def _of(self, namespace: str) -> State:
        return self._routes.get(namespace, self._default)

    async def get(self, ptr: Pointer) -> Resource[Any]:
        return await self._of(ptr.namespace).get(ptr)

    async def list(
        self, kind: Kind, selector: Selector | str | None = None
    ) -> builtins.list[Resource[Any]]:
        return await self._of(kind.namespace).list(kind, selector)

    def watch(self, ptr: Pointer, *, capacity: int | None = None) -> Watch:
        return self._of(ptr.namespace).watch(ptr, capacity=capacity)

    def watch_kind(
        self, kind: Kind, selector: Selector | str | None = None, *, capacity: int | None = None
    ) -> Watch:
        return self._of(kind.namespace).watch_kind(kind, selector, capacity=capacity)

    async def create(self, resource: Resource[SpecT], owner: str = "") -> Resource[SpecT]:
        return await self._of(resource.metadata.namespace).create(resource, owner)

    async def update(
        self,
        resource: Resource[SpecT],
        owner: str = "",
        *,
        expected_phase: Phase | None = Phase.RUNNING,
    ) -> Resource[SpecT]:
        state = self._of(resource.metadata.namespace)
        return await state.update(resource, owner, expected_phase=expected_phase)

    async def teardown(self, ptr: Pointer, owner: str = "") -> bool:
        return await self._of(ptr.namespace).teardown(ptr, owner)

    async def add_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        return await self._of(ptr.namespace).add_finalizer(ptr, *names)

    async def remove_finalizer(self, ptr: Pointer, *names: str) -> Resource[Any]:
        return await self._of(ptr.namespace).remove_finalizer(ptr, *names)

    async def destroy(self, ptr: Pointer, owner: str = "") -> None:
        await self._of(ptr.namespace).destroy(ptr, owner)

    async def close(self) -> None:
        unique = {id(state): state for state in (*self._routes.values(), self._default)}
        for state in unique.values():
            await state.close()


def open_node_state(state_dir: Path, registry: Registry) -> NamespacedState:
    """The state of one boot: a fresh memory state, and the durable namespaces from disk."""
    durable = SqliteState(state_dir / STATE_FILE, registry)
    routes = dict.fromkeys(namespaces.DURABLE_NAMESPACES, durable)
    return NamespacedState(InMemoryState(registry=registry), routes)
