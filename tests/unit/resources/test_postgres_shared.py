"""Several processes on one PostgreSQL database (hub replicas): every State sees every write,
in one order; compare-and-swap holds across them; a watch opened late starts from a snapshot
that matches its events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from resource_kinds import ThingSpec, registry, thing
from test_watch_conformance import C, D, U, summary, take

from kiln.resources import Kind, Pointer, StorageError, VersionConflictError
from kiln.resources.pgserver import PostgresServer
from kiln.resources.postgres import PostgresState

pytestmark = pytest.mark.integration

THINGS = Kind.of(ThingSpec)


@pytest_asyncio.fixture
async def replicas(postgres: PostgresServer) -> AsyncIterator[tuple[PostgresState, PostgresState]]:
    dsn = await postgres.new_database("shared")
    first, second = await asyncio.gather(
        PostgresState.connect(dsn, registry()), PostgresState.connect(dsn, registry())
    )
    yield first, second
    await asyncio.gather(first.close(), second.close())


async def test_every_replica_sees_every_write_in_the_same_order(
    replicas: tuple[PostgresState, PostgresState],
) -> None:
    first, second = replicas
    async with first.watch_kind(THINGS) as a, second.watch_kind(THINGS) as b:
        await take(a, 1)  # bootstrapped
        await take(b, 1)
        one = await first.create(thing("one", 1))
        two = await second.create(thing("two", 2))
        one.spec.value = 10
        await second.update(one)
        await first.destroy(two.pointer)
        seen_a, seen_b = await take(a, 4), await take(b, 4)
    expected = [(C, "one", 1), (C, "two", 1), (U, "one", 2), (D, "two", 1)]
    assert summary(seen_a) == summary(seen_b) == expected


async def test_a_stale_write_from_another_replica_is_refused(
    replicas: tuple[PostgresState, PostgresState],
) -> None:
    first, second = replicas
    await first.create(thing("x", 1))
    mine = await first.get(Pointer.of(ThingSpec, "x"))
    theirs = await second.get(Pointer.of(ThingSpec, "x"))
    mine.spec.value = 2
    await first.update(mine)
    theirs.spec.value = 3
    with pytest.raises(VersionConflictError):
        await second.update(theirs)
    assert (await second.get(mine.pointer)).spec.value == 2


async def test_concurrent_writers_on_two_replicas_lose_nothing(
    replicas: tuple[PostgresState, PostgresState],
) -> None:
    first, second = replicas
    async with second.watch_kind(THINGS) as watch:
        await take(watch, 1)

        async def write(state: PostgresState, prefix: str) -> None:
            for n in range(20):
                await state.create(thing(f"{prefix}{n:02d}", n))

        await asyncio.gather(write(first, "a"), write(second, "b"))
        events = await take(watch, 40)
    assert sorted(e.resource.id for e in events if e.resource) == sorted(
        [f"a{n:02d}" for n in range(20)] + [f"b{n:02d}" for n in range(20)]
    )
    assert {e.type for e in events} == {C}


async def test_a_late_watch_starts_from_a_snapshot_without_duplicates(
    replicas: tuple[PostgresState, PostgresState],
) -> None:
    first, second = replicas
    for n in range(5):
        await first.create(thing(f"t{n}", n))
    async with second.watch_kind(THINGS) as watch:
        snapshot = await take(watch, 6)  # 5 resources, then bootstrapped
        await first.create(thing("t9", 9))
        (after,) = await take(watch, 1)
    assert [e.resource.id for e in snapshot if e.resource] == [f"t{n}" for n in range(5)]
    assert summary([after]) == [(C, "t9", 1)]


async def test_a_database_that_cannot_be_reached_is_a_storage_error() -> None:
    refused = re.escape("cannot connect to postgresql://nobody@127.0.0.1:1/x")  # no password
    with pytest.raises(StorageError, match=refused):
        await PostgresState.connect("postgresql://nobody:secret@127.0.0.1:1/x", registry())


async def test_a_watch_outlives_the_loss_of_the_connection_that_follows_the_feed(
    replicas: tuple[PostgresState, PostgresState], postgres: PostgresServer
) -> None:
    first, second = replicas
    async with second.watch_kind(THINGS) as watch:
        await take(watch, 1)  # bootstrapped
        await first.create(thing("before", 1))
        admin = await asyncpg.connect(postgres.dsn)
        try:  # every session listening for the feed ends: the server restarted, say
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        await first.create(thing("during", 1))
        await asyncio.sleep(1.5)  # the followers connect again
        await first.create(thing("after", 1))
        seen = await take(watch, 3)
    assert summary(seen) == [(C, "before", 1), (C, "during", 1), (C, "after", 1)]
