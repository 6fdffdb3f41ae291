"""Where a client connects and as whom: from a kilnconfig context and/or command-line flags.

The endpoint is the first of ``endpoints`` (flags, then the context's), else the first node.
Nodes the request is meant for (``-n``) must be that endpoint itself for now: forwarding a
request through an endpoint to other nodes comes later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiln.machinery.client.errors import ClientError
from kiln.machinery.kilnconfig import API_PORT, Context, split_endpoint
from kiln.machinery.secrets.keys import b64_to_pem


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
class Target:
    """One endpoint to dial; ``credentials`` None means insecure (maintenance mode)."""

    host: str
    port: int
    credentials: MutualTLS | None
    nodes: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """``host:port`` as gRPC dials it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def insecure(self) -> bool:
        return self.credentials is None


def resolve(
    context: Context | None,
    *,
    endpoints: Sequence[str] = (),
    nodes: Sequence[str] = (),
    insecure: bool = False,
) -> Target:
    """The target of a request; ClientError if there is nowhere to connect or no credentials."""
    wanted_nodes = tuple(nodes or (context.nodes if context is not None else ()))
    candidates = list(endpoints or (context.endpoints if context is not None else ()))
    if not candidates and wanted_nodes:
        candidates = [wanted_nodes[0]]
    if not candidates:
        raise ClientError(
            "no endpoint: give -e/--endpoints or -n/--nodes, or set endpoints in the context"
        )
    host, port = _split(candidates[0])
    for node in wanted_nodes:
        node_host, node_port = _split(node, port)
        if (node_host, node_port) != (host, port):
            raise ClientError(
                f"node {node} is not the endpoint {candidates[0]}: forwarding requests to "
                "other nodes is not supported yet; use the node itself as the endpoint"
            )
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
