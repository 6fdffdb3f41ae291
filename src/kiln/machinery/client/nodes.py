"""The metadata on every call of a channel: the ``nodes`` a target names other than its
endpoint, and through a hub its API key and cluster.

Set on the channel rather than call by call, so that no call of the client — whichever module
makes it — silently goes to the endpoint alone when the target names other nodes. A node does
not forward client streams (Upgrade: name the node as the endpoint), so they carry ``nodes``
only through a hub, which relays every kind of call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from kiln.machinery import forwarding
from kiln.machinery.client.target import Target

Request = TypeVar("Request")
Response = TypeVar("Response")
Pairs = tuple[tuple[str, str], ...]


def interceptors(target: Target) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors adding the target's metadata to every call; none when it needs none."""
    pairs: Pairs = ()
    if target.forwarded:
        pairs += ((forwarding.NODES, forwarding.join(target.forwarded)),)
    if target.hub is None:
        return [_Unary(pairs), _UnaryStream(pairs)] if pairs else []
    pairs += (
        (forwarding.AUTHORIZATION, forwarding.BEARER + target.hub.api_key),
        (forwarding.CLUSTER, target.hub.cluster),
    )
    return [_Unary(pairs), _UnaryStream(pairs), _StreamUnary(pairs), _StreamStream(pairs)]


def _with(details: grpc.aio.ClientCallDetails, pairs: Pairs) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in pairs:
        metadata[key] = value
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _Unary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, Request],
            Awaitable[grpc.aio.UnaryUnaryCall[Request, Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> Response | grpc.aio.UnaryUnaryCall[Request, Response]:
        return await continuation(_with(client_call_details, self._pairs), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs

    async def intercept_unary_stream(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, Request],
            Awaitable[grpc.aio.UnaryStreamCall[Request, Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> AsyncIterator[Response] | grpc.aio.UnaryStreamCall[Request, Response]:
        return await continuation(_with(client_call_details, self._pairs), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with(client_call_details, self._pairs), request)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with(client_call_details, self._pairs), request)
