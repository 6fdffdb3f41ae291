"""Resource state throughput: updates per second, and watch events delivered per second.

Run from the repository root::

    .venv/bin/python benchmarks/resources_bench.py

For each backend (in-memory; SQLite with synchronous=FULL, the default, and NORMAL; PostgreSQL,
a server this script starts in a temporary directory, with fsync on) it measures
  * updates/s: one writer updating 100 resources round-robin, nobody watching;
  * events/s with 1 and 100 watchers: the same writer while every watcher consumes every
    event and reads its resource (each watcher decodes its own copy); the figure counts events
    delivered to all watchers together, from the first write until the last watcher has seen
    the last update. The writer yields to the watchers every 200 writes.
Each figure is the median of ``--repeat`` runs (3). Prints a Markdown table for
benchmarks/README.md, and each figure's spread on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import BaseModel

from kiln.resources import (
    EventType,
    InMemoryState,
    Kind,
    PrintColumn,
    Registry,
    Resource,
    SqliteState,
    State,
    definition,
)
from kiln.resources.pgserver import PostgresServer, server_binaries
from kiln.resources.postgres import PostgresState

RESOURCES = 100
YIELD_EVERY = 200


class Address(BaseModel):
    ip: str
    prefix: int


@definition(
    "BenchStatus",
    namespace="bench",
    print_columns=(PrintColumn("Stage", "stage"),),
    description="A spec of typical size: a few scalars, a list, a nested list.",
)
class BenchSpec(BaseModel):
    stage: str = "running"
    ready: bool = True
    counter: int = 0
    tags: list[str] = ["control-plane", "zone-a"]
    addresses: list[Address] = [Address(ip="10.0.0.1", prefix=24), Address(ip="fd00::1", prefix=64)]


KIND = Kind.of(BenchSpec)


async def seed(state: State) -> list[Resource[BenchSpec]]:
    return [
        await state.create(Resource.new(f"r{n:03}", BenchSpec(), labels={"bench": "yes"}))
        for n in range(RESOURCES)
    ]


async def write(state: State, resources: list[Resource[BenchSpec]], updates: int) -> None:
    for n in range(updates):
        slot = n % len(resources)
        resource = resources[slot]
        resource.spec.counter += 1
        resources[slot] = await state.update(resource)
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)


async def updates_per_second(state: State, updates: int) -> float:
    resources = await seed(state)
    start = time.perf_counter()
    await write(state, resources, updates)
    return updates / (time.perf_counter() - start)


async def events_per_second(state: State, updates: int, watchers: int) -> float:
    resources = await seed(state)

    async def consume(ready: asyncio.Event) -> None:
        seen = 0
        async with state.watch_kind(KIND, "bench=yes", capacity=updates + RESOURCES + 1) as watch:
            async for event in watch:
                if event.type is EventType.BOOTSTRAPPED:
                    ready.set()
                elif event.type is EventType.UPDATED:
                    assert event.resource is not None  # decode it, as a real consumer would
                    seen += 1
                    if seen == updates:
                        return
                elif event.type is EventType.ERRORED:
                    raise RuntimeError(f"watch ended: {event.error}")

    readies = [asyncio.Event() for _ in range(watchers)]
    tasks = [
        asyncio.create_task(consume(ready), name=f"watcher {n}") for n, ready in enumerate(readies)
    ]
    for ready in readies:
        await ready.wait()
    start = time.perf_counter()
    await write(state, resources, updates)
    await asyncio.gather(*tasks)
    return updates * watchers / (time.perf_counter() - start)


async def measure(
    name: str, make: Callable[[], Awaitable[State]], updates: int, repeat: int
) -> list[tuple[str, str, float]]:
    rows = []
    for label, run in (
        ("updates/s", lambda s: updates_per_second(s, updates)),
        ("events/s, 1 watcher", lambda s: events_per_second(s, updates, 1)),
        ("events/s, 100 watchers", lambda s: events_per_second(s, max(updates // 10, 200), 100)),
    ):
        figures = []
        for _ in range(repeat):
            state = await make()
            try:
                figures.append(await run(state))
            finally:
                await state.close()
        figure = statistics.median(figures)
        rows.append((name, label, figure))
        spread = f"{min(figures):,.0f}..{max(figures):,.0f}"
        print(f"  {name:<16} {label:<24} {figure:>10,.0f}  ({spread})", file=sys.stderr)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000, help="updates per in-memory run")
    parser.add_argument("--sqlite-updates", type=int, default=3_000, help="per SQLite run")
    parser.add_argument("--postgres-updates", type=int, default=2_000, help="per PostgreSQL run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()

    registry = Registry([BenchSpec])
    rows = []
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as tmp:
        counter = iter(range(1_000_000))

        def sqlite(synchronous: str) -> Callable[[], Awaitable[State]]:
            async def make() -> State:
                path = Path(tmp) / f"bench-{next(counter)}.db"
                return SqliteState(path, registry, synchronous=synchronous)

            return make

        async def memory() -> State:
            return InMemoryState(registry=registry)

        rows += await measure("in-memory", memory, args.updates, args.repeat)
        rows += await measure("SQLite (FULL)", sqlite("FULL"), args.sqlite_updates, args.repeat)
        rows += await measure("SQLite (NORMAL)", sqlite("NORMAL"), args.sqlite_updates, args.repeat)
        if server_binaries() is None:
            print("  PostgreSQL: no server binaries (apt-get install postgresql)", file=sys.stderr)
        else:
            async with PostgresServer(Path(tmp) / "postgres") as server:

                async def postgres() -> State:
                    dsn = await server.create_database(f"bench_{next(counter)}")
                    return await PostgresState.connect(dsn, registry)

                rows += await measure("PostgreSQL", postgres, args.postgres_updates, args.repeat)

    print("| Backend | Measure | Per second |")
    print("|---|---|---:|")
    for backend, label, figure in rows:
        print(f"| {backend} | {label} | {figure:,.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
