"""Where a client connects and as whom: from a kilnconfig context and/or command-line flags.

The endpoint is the first of ``endpoints`` (flags, then the context's), else the first node.
The nodes the request is meant for (``-n``, else the context's) other than the endpoint itself
are named in the call's ``nodes`` metadata, and the endpoint forwards it to them
(:mod:`kiln.machinery.forwarding`); a node without a port is on port 50000.

A context through a hub (``hub:``) has the hub as its endpoint: every call carries its API key
and cluster, and names its nodes (none: the hub picks the cluster's first control plane).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiln.machinery.client.errors import ClientError
from kiln.machinery.kilnconfig import API_PORT, Context, HubRoute, split_endpoint
from kiln.machinery.secrets.keys import b64_to_pem

HUB_PORT = 8443


@dataclass(frozen=True)
class MutualTLS:
    """Client credentials: the cluster's OS CA and a client certificate with its key (PEM)."""

    ca: bytes
    crt: bytes
    key: bytes

    @classmethod
    def of(cls, context: Context) -> MutualTLS:
        return cls(
            ca=b64_to_pem(context.ca, "context ca"),
            crt=b64_to_pem(context.crt, "context crt"),
            key=b64_to_pem(context.key, "context key"),
        )


@dataclass(frozen=True)
class ThroughHub:
    """A hub that relays the calls to the machines of ``cluster``: its pinned certificate (PEM)
    and the API key to call with."""

    ca: bytes
    api_key: str
    cluster: str

    @classmethod
    def of(cls, route: HubRoute) -> ThroughHub:
        return cls(b64_to_pem(route.ca, "context hub.ca"), route.api_key, route.cluster)


@dataclass(frozen=True)
class Target:
    """One endpoint to dial; ``credentials`` None means insecure (maintenance mode) unless
    ``hub`` says the endpoint is a hub relaying to a cluster's machines."""

    host: str
    port: int
    credentials: MutualTLS | None
    nodes: tuple[str, ...] = ()
    hub: ThroughHub | None = None

    @property
    def forwarded(self) -> tuple[str, ...]:
        """The nodes to name in the ``nodes`` metadata: none when the endpoint is the only one
        (through a hub, every node: the hub is none of them)."""
        if self.hub is None and all(_split(node) == (self.host, self.port) for node in self.nodes):
            return ()
        return self.nodes

    @property
    def address(self) -> str:
        """``host:port`` as gRPC dials it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def insecure(self) -> bool:
        return self.credentials is None and self.hub is None


def resolve(
    context: Context | None,
    *,
    endpoints: Sequence[str] = (),
    nodes: Sequence[str] = (),
    insecure: bool = False,
) -> Target:
    """The target of a request; ClientError if there is nowhere to connect or no credentials."""
    wanted_nodes = tuple(nodes or (context.nodes if context is not None else ()))
    if context is not None and context.hub is not None and not insecure:
        return _through_hub(context.hub, endpoints, wanted_nodes)
    candidates = list(endpoints or (context.endpoints if context is not None else ()))
    if not candidates and wanted_nodes:
        candidates = [wanted_nodes[0]]
    if not candidates:
        raise ClientError(
            "no endpoint: give -e/--endpoints or -n/--nodes, or set endpoints in the context"
        )
    host, port = _split(candidates[0])
    for node in wanted_nodes:
        _split(node)
    if insecure:
        return Target(host, port, None, wanted_nodes)
    if context is None:
        raise ClientError(
            "no client credentials: use a kilnconfig context, or --insecure for a node "
            "in maintenance mode"
        )
    return Target(host, port, MutualTLS.of(context), wanted_nodes)


def _split(endpoint: str, default_port: int = API_PORT) -> tuple[str, int]:
    try:
        return split_endpoint(endpoint, default_port)
    except ValueError as exc:
        raise ClientError(str(exc)) from None


def _through_hub(route: HubRoute, endpoints: Sequence[str], nodes: tuple[str, ...]) -> Target:
    if endpoints:
        raise ClientError(
            f"-e/--endpoints: the context reaches cluster {route.cluster} through the hub at "
            f"{route.url}; name its machines with -n/--nodes instead"
        )
    host, port = _split(route.url, HUB_PORT)
    return Target(host, port, None, nodes, ThroughHub.of(route))
