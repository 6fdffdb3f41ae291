"""The ``nodes`` metadata on every call of a channel whose target names other nodes.

Set on the channel rather than call by call, so that no call of the client — whichever module
makes it — silently goes to the endpoint alone when the target names other nodes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import grpc

from kiln.machinery import forwarding

Request = TypeVar("Request")
Response = TypeVar("Response")


def interceptors(nodes: Sequence[str]) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors naming ``nodes`` on every unary and streaming call; none for no nodes."""
    if not nodes:
        return []
    value = forwarding.join(nodes)
    return [_NodesUnary(value), _NodesStream(value)]


def _naming(details: grpc.aio.ClientCallDetails, value: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    metadata[forwarding.NODES] = value
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _NodesUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, value: str) -> None:
        self._value = value

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, Request],
            Awaitable[grpc.aio.UnaryUnaryCall[Request, Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> Response | grpc.aio.UnaryUnaryCall[Request, Response]:
        return await continuation(_naming(client_call_details, self._value), request)


class _NodesStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, value: str) -> None:
        self._value = value

    async def intercept_unary_stream(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, Request],
            Awaitable[grpc.aio.UnaryStreamCall[Request, Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> AsyncIterator[Response] | grpc.aio.UnaryStreamCall[Request, Response]:
        return await continuation(_naming(client_call_details, self._value), request)
