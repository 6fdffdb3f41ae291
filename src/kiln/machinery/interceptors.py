"""A server interceptor that wraps every unary, server-streaming and client-streaming handler
of a service, the shape the servers' access checks share (the node's and the hub's)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]
Streaming = Callable[[Any, Context], AsyncIterator[Any]]
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Hands each method's behaviour to :meth:`wrap_unary` / :meth:`wrap_streaming`; a
    client-streaming method (one answer) goes to :meth:`wrap_unary` and a bidirectional one to
    :meth:`wrap_streaming`, each with the request iterator as its request."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.wrap_unary(method, cast(Unary, handler.unary_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self.wrap_unary(method, cast(Unary, handler.stream_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self.wrap_streaming(method, cast(Streaming, handler.unary_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self.wrap_streaming(method, cast(Streaming, handler.stream_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @abstractmethod
    def wrap_unary(self, method: str, behavior: Unary) -> Unary: ...

    @abstractmethod
    def wrap_streaming(self, method: str, behavior: Streaming) -> Streaming: ...
