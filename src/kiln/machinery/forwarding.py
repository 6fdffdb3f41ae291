"""Request metadata of forwarding: one endpoint, many nodes.

A client names the nodes a call is for in the ``nodes`` metadata (``10.5.0.3,10.5.0.4:50000``;
a node without a port is on :data:`~kiln.machinery.kilnconfig.API_PORT`). The endpoint node
calls each of them and answers for all, every message labelled with the node as named there.
It calls them as itself, with a client certificate of Organization
:data:`~kiln.machinery.roles.IMPERSONATOR`, and says in :data:`FORWARDED_ROLE` which roles its
caller holds; :data:`FORWARDED` marks the call as forwarded, so it is never forwarded again.

A hub relays calls the same way to the machines of one of its clusters: the call names the
cluster in :data:`CLUSTER` and carries an API key, and the hub authorizes it by the key's role.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

NODES = "nodes"
FORWARDED = "kiln-forwarded"
FORWARDED_ROLE = "kiln-forwarded-role"
#: Through a hub (``kiln-hub kilnconfig``): the cluster whose machines ``nodes`` names, and
#: the caller's API key (``Bearer KEY``, as every call to the hub's API carries it).
CLUSTER = "kiln-cluster"
AUTHORIZATION = "authorization"
BEARER = "Bearer "


def join(items: Sequence[str]) -> str:
    """Several nodes or roles as one metadata value."""
    return ",".join(items)


def split(found: Iterable[str]) -> list[str]:
    """The items of every value (comma-separated, spaces ignored), in order."""
    return [item.strip() for value in found for item in value.split(",") if item.strip()]


def values(metadata: Iterable[tuple[str, str | bytes]] | None, key: str) -> list[str]:
    """Every text value of ``key`` in gRPC metadata (binary values are ignored)."""
    return [value for name, value in metadata or () if name == key and isinstance(value, str)]
