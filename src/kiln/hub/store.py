"""Where the hub keeps its resources: one :class:`~kiln.resources.State` opened from a URL.

Everything in the hub reads and writes through the State interface (async, compare-and-swap,
watches), so another backend slots in here without changing its users. Today:
``sqlite:///PATH`` (the default: ``DATA/hub.db``, WAL, fsync on every commit, so ``kill -9``
loses no acknowledged write). ``postgresql://`` is refused until that backend exists.
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


def open_state(url: str) -> State:
    """The State at ``url``; InvalidRequestError for a URL no backend serves."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise InvalidRequestError(f"--database {url}: expected sqlite:///ABSOLUTE/PATH")
        return SqliteState(Path(path), hub_registry())
    if scheme in ("postgresql", "postgres"):
        raise InvalidRequestError(f"--database {url}: the PostgreSQL backend is not built yet")
    raise InvalidRequestError(f"--database {url}: unknown database (expected sqlite:///PATH)")
