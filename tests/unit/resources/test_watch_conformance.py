"""Watch conformance: a snapshot, BOOTSTRAPPED, then every change in commit order."""

from __future__ import annotations

import asyncio
import random

from resource_kinds import ThingSpec, thing

from kiln.resources import (
    Event,
    EventType,
    Kind,
    Pointer,
    State,
    StateClosedError,
    Watch,
    WatchOverflowError,
)

THINGS = Kind.of(ThingSpec)
C, U, D, B, E = (
    EventType.CREATED,
    EventType.UPDATED,
    EventType.DESTROYED,
    EventType.BOOTSTRAPPED,
    EventType.ERRORED,
)


async def take(watch: Watch, count: int) -> list[Event]:
    """The next ``count`` events (fails the test if they do not come within 5 s)."""
    events: list[Event] = []
    async with asyncio.timeout(5):
        async for event in watch:
            events.append(event)
            if len(events) == count:
                break
    return events


def summary(events: list[Event]) -> list[tuple[EventType, str | None, int | None]]:
    return [
        (e.type, e.resource.id if e.resource else None, e.resource.version if e.resource else None)
        for e in events
    ]


async def test_snapshot_then_bootstrapped_then_changes(state: State) -> None:
    await state.create(thing("b", 1))
    await state.create(thing("a", 1))
    async with state.watch_kind(THINGS) as watch:
        created = await state.create(thing("c", 1))
        created.spec.value = 2
        await state.update(created)
        await state.destroy(created.pointer)

        events = await take(watch, 6)
    assert summary(events) == [
        (C, "a", 1),
        (C, "b", 1),
        (B, None, None),
        (C, "c", 1),
        (U, "c", 2),
        (D, "c", 2),
    ]
    updated = events[4]
    assert updated.old is not None and updated.old.spec.value == 1
    assert updated.resource is not None and updated.resource.spec.value == 2


async def test_events_follow_commit_order_across_interleaved_writers(state: State) -> None:
    """Writers interleave; a watcher opened mid-stream sees each write exactly once, in order."""
    committed: list[tuple[EventType, str, int]] = []
    rng = random.Random(7)

    async def writer(name: str) -> None:
        ids = [f"{name}-{n}" for n in range(4)]
        for id_ in ids:
            committed.append((C, id_, (await state.create(thing(id_))).version))
            await asyncio.sleep(0)
        for _ in range(25):
            current = await state.get(Pointer.of(ThingSpec, rng.choice(ids)))
            current.spec.value += 1
            committed.append((U, current.id, (await state.update(current)).version))
            await asyncio.sleep(0)
        victim = await state.get(Pointer.of(ThingSpec, ids[0]))
        await state.destroy(victim.pointer)
        committed.append((D, victim.id, victim.version))

    writers = [asyncio.create_task(writer(f"w{n}")) for n in range(4)]
    for _ in range(20):  # let the writers get going before the watch opens
        await asyncio.sleep(0)
    async with state.watch_kind(THINGS) as watch:
        opened_at = len(committed)
        await asyncio.gather(*writers)
        expected_live = committed[opened_at:]
        events: list[Event] = []
        live_count: int | None = None
        async with asyncio.timeout(5):
            async for event in watch:
                events.append(event)
                if event.type is B:
                    live_count = 0
                elif live_count is not None:
                    live_count += 1
                if live_count == len(expected_live):
                    break

    assert 0 < opened_at < len(committed), "the watch should open while writers are busy"
    bootstrap = [i for i, e in enumerate(events) if e.type is B]
    assert len(bootstrap) == 1
    snapshot, live = events[: bootstrap[0]], events[bootstrap[0] + 1 :]
    assert all(e.type is C for e in snapshot)
    assert summary(live) == expected_live
    # The snapshot plus the live events reproduce the final state exactly.
    final = {r.id: r.version for r in await state.list(THINGS)}
    replayed: dict[str, int] = {}
    for event in [*snapshot, *live]:
        assert event.resource is not None
        if event.type is D:
            del replayed[event.resource.id]
        else:
            replayed[event.resource.id] = event.resource.version
    assert replayed == final


async def test_selector_watch_sees_resources_enter_and_leave(state: State) -> None:
    await state.create(thing("a", role="cp"))
    await state.create(thing("b", role="worker"))
    async with state.watch_kind(THINGS, "role=cp") as watch:
        b = await state.get(Pointer.of(ThingSpec, "b"))
        b.spec.value = 1  # not matching: unseen
        b = await state.update(b)
        b.metadata.labels["role"] = "cp"  # starts matching: CREATED
        b = await state.update(b)
        b.spec.value = 2  # matching: UPDATED
        b = await state.update(b)
        b.metadata.labels["role"] = "worker"  # stops matching: DESTROYED
        b = await state.update(b)
        await state.destroy(b.pointer)  # not matching any more: unseen
        await state.destroy(Pointer.of(ThingSpec, "a"))  # matching: DESTROYED

        events = await take(watch, 6)
    assert summary(events) == [
        (C, "a", 1),
        (B, None, None),
        (C, "b", 3),
        (U, "b", 4),
        (D, "b", 5),
        (D, "a", 1),
    ]
    left = events[4]
    assert left.old is not None and left.old.metadata.labels["role"] == "cp"


async def test_watch_by_id_sees_only_that_resource(state: State) -> None:
    ptr = Pointer.of(ThingSpec, "a")
    async with state.watch(ptr) as watch:
        await state.create(thing("other"))
        created = await state.create(thing("a"))
        created.spec.value = 1
        await state.update(created)
        await state.destroy(ptr)
        await state.create(thing("a", 5))
        events = await take(watch, 5)
    assert summary(events) == [(B, None, None), (C, "a", 1), (U, "a", 2), (D, "a", 2), (C, "a", 1)]

    async with state.watch(ptr) as watch:
        assert summary(await take(watch, 2)) == [(C, "a", 1), (B, None, None)]


async def test_a_slow_watcher_overflows_without_blocking_writers(state: State) -> None:
    created = await state.create(thing("a"))
    slow = await state.watch(created.pointer, capacity=3).open()
    keeping_up = await state.watch(created.pointer).open()
    for value in range(1, 7):
        created.spec.value = value
        created = await state.update(created)  # never waits for a watcher

    events = [event async for event in slow]  # the watch ends by itself
    assert [e.type for e in events] == [C, B, U, U, U, E]
    assert isinstance(events[-1].error, WatchOverflowError)
    assert "default/Thing/a" in str(events[-1].error)

    assert [e.type for e in await take(keeping_up, 8)] == [C, B, U, U, U, U, U, U]
    keeping_up.close()


async def test_event_resources_are_copies(state: State) -> None:
    async with state.watch_kind(THINGS) as one, state.watch_kind(THINGS) as two:
        await state.create(thing("a", 1))
        (_, first) = await take(one, 2)
        assert first.resource is not None
        first.resource.spec.value = 99
        first.resource.metadata.labels["x"] = "y"
        (_, second) = await take(two, 2)
    assert second.resource is not None and second.resource.spec.value == 1
    assert second.resource.metadata.labels == {}
    assert (await state.get(Pointer.of(ThingSpec, "a"))).spec.value == 1


async def test_closing_the_state_ends_watches(state: State) -> None:
    watch = await state.watch_kind(THINGS).open()
    await state.close()
    events = [event async for event in watch]
    assert [e.type for e in events] == [B, E]
    assert isinstance(events[-1].error, StateClosedError)


async def test_a_closed_watch_stops_receiving(state: State) -> None:
    async with state.watch_kind(THINGS) as watch:
        await take(watch, 1)
    await state.create(thing("a"))
    assert [event async for event in watch] == []
