"""Where the hub keeps its resources: one :class:`~kiln.resources.State` opened from a URL.

Everything in the hub reads and writes through the State interface (async, compare-and-swap,
watches), so the backend is a matter of the URL:

- ``sqlite:///PATH`` (the default: ``DATA/hub.db``, WAL, fsync on every commit, so ``kill -9``
  loses no acknowledged write);
- ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (:mod:`kiln.resources.postgres`): the
  schema is made or migrated on open. Several hub processes on one database is the next step
  (leader election for the controllers, machine links held by one replica).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from kiln.hub.errors import InvalidRequestError
from kiln.hub.resources import hub_registry
from kiln.resources import SqliteState, State

DATABASE_FILE = "hub.db"


def default_database(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DATABASE_FILE}"


async def open_state(url: str) -> State:
    """The State at ``url``; InvalidRequestError for a URL no backend serves, StorageError
    for a database that cannot be opened."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise InvalidRequestError(f"--database {url}: expected sqlite:///ABSOLUTE/PATH")
        return SqliteState(Path(path), hub_registry())
    if scheme in ("postgresql", "postgres"):
        from kiln.resources.postgres import PostgresState  # only hubs on PostgreSQL load it

        return await PostgresState.connect(url, hub_registry())
    raise InvalidRequestError(
        f"--database {url}: unknown database (expected sqlite:///PATH or postgresql://...)"
    )
