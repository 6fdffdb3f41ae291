"""The SQLite state keeps everything across restarts, including a writer killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest
from resource_kinds import DoubledSpec, ThingSpec, registry, thing

from kiln.resources import (
    Kind,
    Phase,
    Pointer,
    Registry,
    SqliteState,
    StorageError,
    UnknownTypeError,
    VersionConflictError,
    to_dict,
)

THINGS = Kind.of(ThingSpec)


async def test_reopening_the_file_keeps_every_resource_and_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = SqliteState(path, registry())
    a = await state.create(thing("a", 1, role="cp"), owner="ctrl")
    a.spec.tags.append("t")
    a.metadata.annotations["note"] = "kept"
    a = await state.update(a, owner="ctrl")
    await state.create(thing("b", 2))
    await state.add_finalizer(Pointer.of(ThingSpec, "b"), "etcd")
    await state.teardown(Pointer.of(ThingSpec, "b"))
    await state.create(thing("gone"))
    await state.destroy(Pointer.of(ThingSpec, "gone"))
    before = [to_dict(r) for r in await state.list(THINGS)]
    stale = await state.get(a.pointer)
    await state.close()

    reopened = SqliteState(path, registry())
    after = await reopened.list(THINGS)
    assert [to_dict(r) for r in after] == before
    b = after[1]
    assert (b.metadata.phase, b.metadata.finalizers) == (Phase.TEARING_DOWN, ("etcd",))
    assert after[0].metadata.created.tzinfo is not None

    # Versions carry on where they were; a resource read before the restart is not stale yet.
    stale.spec.value = 5
    assert (await reopened.update(stale, owner="ctrl")).version == 3
    with pytest.raises(VersionConflictError):
        await reopened.update(stale, owner="ctrl")
    await reopened.close()


CHILD = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from resource_kinds import registry, thing
from kiln.resources import SqliteState

async def main() -> None:
    state = SqliteState(sys.argv[1], registry())
    n = 0
    while True:  # until killed
        await state.create(thing(f"r{n:05}", n, batch="killed"))
        print(f"ack r{n:05}", flush=True)
        n += 1

asyncio.run(main())
"""


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(CHILD),
        str(path),
        str(Path(__file__).parent),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        async with asyncio.timeout(30):
            while len(acked) < 100:
                line = await child.stdout.readline()
                if not line:
                    break
                acked.append(line.decode().split()[1])
        child.send_signal(signal.SIGKILL)  # mid-stream: the child never stops by itself
    finally:
        if child.returncode is None:
            child.kill()
        _, err = await child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()
    assert len(acked) == 100, err.decode()

    state = SqliteState(path, registry())
    stored = {r.id: r for r in await state.list(THINGS, "batch=killed")}
    for n, id_ in enumerate(acked):
        assert id_ in stored, f"acknowledged write {id_} lost"
        assert stored[id_].spec.value == n
    assert (await state.create(thing("after"))).version == 1  # the file is usable
    await state.close()


async def test_types_not_in_the_registry_are_not_decoded(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = SqliteState(path, registry())
    await state.create(thing("a"))
    await state.close()

    narrow = SqliteState(path, Registry([DoubledSpec]))
    with pytest.raises(UnknownTypeError, match="'Thing'"):
        await narrow.list(THINGS)
    await narrow.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StorageError, match="schema version 99; this Kiln reads up to 1"):
        SqliteState(path, registry())


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match=f"cannot open {path}"):
        SqliteState(path, registry())
