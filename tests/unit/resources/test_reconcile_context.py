"""What a controller can do inside one reconcile: modify, cleanup, finalizers, typed reads."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from pydantic import BaseModel
from resource_kinds import DoubledSpec, SwitchSpec, ThingSpec, thing

from kiln.resources import (
    InMemoryState,
    Kind,
    OwnerConflictError,
    Phase,
    PhaseConflictError,
    Pointer,
    ReconcileContext,
    Resource,
    UndeclaredAccessError,
)

SpecT = TypeVar("SpecT", bound=BaseModel)
THINGS, DOUBLED = Kind.of(ThingSpec), Kind.of(DoubledSpec)


def context(state: InMemoryState, name: str = "ctrl") -> ReconcileContext:
    return ReconcileContext(state, name, readable=[THINGS], writable=[DOUBLED])


async def test_modify_creates_updates_and_skips_writes_that_change_nothing() -> None:
    state = InMemoryState()
    ctx = context(state)
    ptr = Pointer.of(DoubledSpec, "a")

    created = await ctx.modify(Resource.new("a", DoubledSpec(value=1), labels={"k": "v"}))
    assert (created.version, created.metadata.owner) == (1, "ctrl")
    same = await ctx.modify(Resource.new("a", DoubledSpec(value=1), labels={"k": "v"}))
    assert same.version == 1  # nothing changed: no write
    relabelled = await ctx.modify(Resource.new("a", DoubledSpec(value=1)))
    assert (relabelled.version, relabelled.metadata.labels) == (2, {})

    def bump(resource: Resource[DoubledSpec]) -> None:
        resource.spec.value += 10

    bumped = await ctx.modify(Resource.new("a", DoubledSpec()), bump)
    assert (bumped.version, bumped.spec.value) == (3, 11)
    assert ctx.touched == {ptr}


class RacingState(InMemoryState):
    """Another writer sneaks in an update just before each of the next ``races`` updates."""

    races = 2

    async def update(
        self, resource: Resource[SpecT], owner: str = "", **kw: Any
    ) -> Resource[SpecT]:
        if self.races:
            self.races -= 1
            current = await self.get(resource.pointer)
            current.metadata.annotations["raced"] = str(self.races)
            await super().update(current, owner)
        return await super().update(resource, owner, **kw)


async def test_modify_retries_when_a_concurrent_write_wins() -> None:
    state = RacingState()
    ctx = context(state)
    await ctx.modify(Resource.new("a", DoubledSpec(value=1)))

    def bump(resource: Resource[DoubledSpec]) -> None:
        resource.spec.value += 1

    result = await ctx.modify(Resource.new("a", DoubledSpec()), bump)
    assert (result.spec.value, result.version) == (2, 4)  # two raced writes, then ours
    assert result.metadata.annotations == {"raced": "0"}


async def test_modify_never_adopts_a_resource_it_does_not_own() -> None:
    state = InMemoryState()
    await state.create(Resource.new("a", DoubledSpec(value=1)))  # the user's
    with pytest.raises(OwnerConflictError, match="owned by the user, not by controller ctrl"):
        await context(state).modify(Resource.new("a", DoubledSpec(value=1)))


async def test_modify_refuses_an_output_being_torn_down() -> None:
    state = InMemoryState()
    ctx = context(state)
    await ctx.modify(Resource.new("a", DoubledSpec(value=1)))
    await state.add_finalizer(Pointer.of(DoubledSpec, "a"), "hold")
    assert await ctx.teardown(Pointer.of(DoubledSpec, "a")) is False
    with pytest.raises(PhaseConflictError, match="default/Doubled/a is tearing-down"):
        await ctx.modify(Resource.new("a", DoubledSpec(value=2)))


async def test_cleanup_removes_only_untouched_outputs_of_this_controller() -> None:
    state = InMemoryState()
    first = context(state)
    for id_ in ("keep", "stale", "held"):
        await first.modify(Resource.new(id_, DoubledSpec()))
    await context(state, "other").modify(Resource.new("theirs", DoubledSpec()))
    await state.add_finalizer(Pointer.of(DoubledSpec, "held"), "user")

    second = context(state)
    await second.modify(Resource.new("keep", DoubledSpec()))
    destroyed = await second.cleanup_outputs(DoubledSpec)

    assert destroyed == [Pointer.of(DoubledSpec, "stale")]
    left = {r.id: r.metadata.phase for r in await state.list(DOUBLED)}
    assert left == {"keep": Phase.RUNNING, "held": Phase.TEARING_DOWN, "theirs": Phase.RUNNING}


async def test_finalizers_reads_and_writes_are_limited_to_declared_kinds() -> None:
    state = InMemoryState()
    await state.create(thing("a", 3))
    await state.create(Resource.new("switch", SwitchSpec()))
    ctx = context(state)

    held = await ctx.add_finalizer(Pointer.of(ThingSpec, "a"))
    assert held.metadata.finalizers == ("ctrl",)
    typed = await ctx.reader.get(ThingSpec, "a")
    assert typed.spec.value == 3  # a Resource[ThingSpec]
    assert [r.id for r in await ctx.reader.list(ThingSpec)] == ["a"]
    assert await ctx.reader.find(DoubledSpec, "missing") is None

    with pytest.raises(UndeclaredAccessError, match="cannot read config/Switch/switch"):
        await ctx.reader.get(Pointer.of(SwitchSpec, "switch"))
    with pytest.raises(UndeclaredAccessError, match="cannot write default/Thing/a"):
        await ctx.update(typed)
    with pytest.raises(UndeclaredAccessError, match="cannot read config/Switch/switch"):
        await ctx.add_finalizer(Pointer.of(SwitchSpec, "switch"))
