"""Forwarding: one endpoint answers for several nodes (the ``nodes`` request metadata).

:class:`ForwardInterceptor` sits inside the access interceptor, which has already admitted the
caller for the method with its own roles. When a call names nodes other than this one, the
method's handler is swapped for one that calls each named node (:class:`~.relay.Relay`):

- a unary method answering ``repeated messages`` goes to every node at once; the answers are
  concatenated, each message labelled (``metadata.node``) with its node as the caller named it,
  and a node that fails adds one message with ``metadata.error`` and ``metadata.code`` instead
  of failing the call;
- a streaming method, or a unary one whose answer cannot be merged, takes exactly one node,
  whose answer is relayed with labels and whose failure is the call's.

The endpoint calls the nodes as itself, with an ``os:impersonator`` client certificate, marks
the call forwarded and names its caller's roles (:mod:`kiln.machinery.forwarding`); each node
authorizes those roles with the same permission table. Guards: a forwarded call naming nodes is
refused (one hop only); only control-plane nodes forward (they hold the OS CA key their client
certificate comes from), so a worker or a node in maintenance mode refuses to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from kiln.errors import KilnError
from kiln.machined.api.relay import Relay, Target
from kiln.machined.errors import InvalidRequestError, NodeStateError
from kiln.machinery import forwarding
from kiln.machinery.endpoints import API_PORT, split_endpoint
from kiln.machinery.node_answers import mergeable, response_class

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]

MAX_NODES = 64
BOOT_WAIT = 30.0  # how long a call naming nodes waits for an early server's boot


@dataclass(frozen=True)
class OwnAddresses:
    """The names and addresses on which this node's API answers, at ``port``."""

    port: int
    hosts: frozenset[str]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, tuple) or len(address) != 2:
            return False
        host, port = address
        return port == self.port and str(host).lower() in self.hosts


@dataclass(frozen=True)
class ForwardPolicy:
    """Whether and how this node forwards: ``relay`` None means it refuses, saying ``refusal``."""

    own: OwnAddresses
    relay: Relay | None
    refusal: str = "this node does not forward calls to other nodes"


class ForwardInterceptor(grpc.aio.ServerInterceptor):
    """Routes calls that name other nodes through the relay (see the module docstring)."""

    def __init__(self, policy: ForwardPolicy, booted: asyncio.Event | None = None) -> None:
        self.policy = policy
        self.booted = booted  # set once the policy is the boot's (an early server's is not)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        metadata = handler_call_details.invocation_metadata
        named = forwarding.split(forwarding.values(metadata, forwarding.NODES))
        if not named:
            return handler
        if self.booted is not None and not self.booted.is_set():
            with contextlib.suppress(TimeoutError):  # else refused: the node is booting
                await asyncio.wait_for(self.booted.wait(), BOOT_WAIT)
        method: str = handler_call_details.method
        try:
            return self._route(method, handler, named, metadata)
        except KilnError as err:
            return refusing(handler, err)

    def _route(self, method: str, handler: Handler, named: list[str], metadata: Any) -> Handler:
        if forwarding.values(metadata, forwarding.FORWARDED):
            raise InvalidRequestError(
                "a forwarded call names nodes: calls are forwarded one hop only"
            )
        targets = self._targets(named)
        if len(targets) == 1 and targets[0].local:
            return handler
        relay = self.policy.relay
        if relay is None:
            raise NodeStateError(self.policy.refusal)
        output = response_class(method)
        if handler.unary_unary is not None and mergeable(output):
            return relay.fan_out(method, handler, output, targets)
        if len(targets) != 1:
            short = method.rsplit("/", 1)[-1]
            raise InvalidRequestError(
                f"{short} answers for one node at a time: name exactly one in 'nodes'"
            )
        if targets[0].local:
            return handler
        return relay.single(method, handler, output, targets[0])

    def _targets(self, named: Sequence[str]) -> list[Target]:
        if len(named) > MAX_NODES:
            raise InvalidRequestError(f"a call may name at most {MAX_NODES} nodes")
        targets: dict[tuple[str, int], Target] = {}
        for label in named:
            try:
                host, port = split_endpoint(label, API_PORT)
            except ValueError as exc:
                raise InvalidRequestError(f"nodes: {exc}") from None
            local = (host, port) in self.policy.own
            targets.setdefault((host, port), Target(label, host, port, local))
        return list(targets.values())

    async def close(self) -> None:
        if self.policy.relay is not None:
            await self.policy.relay.close()


def refusing(handler: Handler, err: KilnError) -> Handler:
    """A handler of the same shape that fails with ``err`` (the access interceptor, outside,
    translates it)."""

    async def unary(request: Any, context: Any) -> Any:
        raise err

    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        nothing: tuple[Any, ...] = ()
        for item in nothing:  # an async generator, like the handler it replaces
            yield item
        raise err

    options = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming, **options)
    return grpc.unary_unary_rpc_method_handler(unary, **options)
