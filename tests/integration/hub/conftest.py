"""A real hub process per test module (on SQLite, then on PostgreSQL), on this suite's
loopback range (127.88.0.0/16)."""

from __future__ import annotations

from hub_helpers import module_hub

HUB_HOST = "127.88.0.1"

#: The hub on its embedded SQLite, then the same tests on a real PostgreSQL server.
hub = module_hub(HUB_HOST)
