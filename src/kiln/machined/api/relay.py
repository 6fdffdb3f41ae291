"""Calling the nodes a forwarded call names, and merging their answers (:mod:`.forward`).

The relay dials each node with the forwarding node's own client certificate (kept in one
channel per node for the life of the API server) and relays the request as it came, marked
forwarded and carrying the caller's roles. Requests and answers are the generated protobuf
messages of the method, found by its name in the descriptor pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.message import Message

from kiln.errors import KilnError
from kiln.machined.api.auth import roles_of
from kiln.machined.api.identity import ClientIdentity
from kiln.machined.api.status import status_of
from kiln.machinery import forwarding
from kiln.machinery.node_answers import budget, element_class, failure, label, messages

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]


@dataclass(frozen=True)
class Target:
    """A node a call is forwarded to, named ``label`` by the caller; ``local``: this node."""

    label: str
    host: str
    port: int
    local: bool = False

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class Relay:
    """Forwards calls to other nodes as this node (see the module docstring)."""

    def __init__(self, identity: ClientIdentity) -> None:
        self._credentials = grpc.ssl_channel_credentials(
            identity.ca, identity.key, identity.certificate
        )
        self._channels: dict[str, grpc.aio.Channel] = {}

    def fan_out(
        self, method: str, handler: Handler, output: type[Message], targets: Sequence[Target]
    ) -> Handler:
        """A unary handler asking every target and merging the answers (failures labelled)."""
        local = cast(Unary, handler.unary_unary)
        element = element_class(output)
        short = method.rsplit("/", 1)[-1]

        async def merged(request: Any, context: Context) -> Message:
            async with asyncio.TaskGroup() as group:
                answers = [
                    group.create_task(
                        self._answer(method, local, output, element, target, request, context),
                        name=f"forward {short} to {target.label}",
                    )
                    for target in targets
                ]
            response = output()
            for answer in answers:
                messages(response).extend(answer.result())
            return response

        return grpc.unary_unary_rpc_method_handler(
            merged,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def single(
        self, method: str, handler: Handler, output: type[Message], target: Target
    ) -> Handler:
        """A handler relaying one target's answer or stream; its failure is the call's."""

        async def unary(request: Any, context: Context) -> Message:
            try:
                response = await self._call(method, output, target, request, context)
            except grpc.aio.AioRpcError as err:
                await context.abort(err.code(), f"{target.label}: {err.details()}")
            label(response, target.label)
            return response

        async def streaming(request: Any, context: Context) -> AsyncIterator[Message]:
            call = self._channel(target).unary_stream(
                method, request_serializer=_serialize, response_deserializer=output.FromString
            )(request, timeout=context.time_remaining(), metadata=_forwarded(context))
            try:
                async for item in call:
                    label(item, target.label)
                    yield item
            except grpc.aio.AioRpcError as err:
                await context.abort(err.code(), f"{target.label}: {err.details()}")
            finally:
                call.cancel()

        options = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(streaming, **options)
        return grpc.unary_unary_rpc_method_handler(unary, **options)

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()

    async def _answer(
        self,
        method: str,
        local: Unary,
        output: type[Message],
        element: type[Message],
        target: Target,
        request: Any,
        context: Context,
    ) -> list[Message]:
        """The target's messages, labelled; or one message saying how it failed."""
        try:
            if target.local:
                response = await local(request, context)
            else:
                within = budget(context.time_remaining())
                response = await self._call(method, output, target, request, context, within)
        except grpc.aio.AioRpcError as err:
            return [failure(element, target.label, err.code(), err.details() or "")]
        except (KilnError, OSError) as err:
            code, message = status_of(err)
            return [failure(element, target.label, code, message)]
        found = list(messages(response))
        for message in found:
            label(message, target.label)
        return found

    async def _call(
        self,
        method: str,
        output: type[Message],
        target: Target,
        request: Any,
        context: Context,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline of the call
    ) -> Message:
        call = self._channel(target).unary_unary(
            method, request_serializer=_serialize, response_deserializer=output.FromString
        )
        response: Message = await call(
            request, timeout=timeout or context.time_remaining(), metadata=_forwarded(context)
        )
        return response

    def _channel(self, target: Target) -> grpc.aio.Channel:
        channel = self._channels.get(target.address)
        if channel is None:
            channel = grpc.aio.secure_channel(target.address, self._credentials)
            self._channels[target.address] = channel
        return channel


def _forwarded(context: Context) -> tuple[tuple[str, str], ...]:
    roles = forwarding.join(sorted(role.value for role in roles_of(context)))
    return ((forwarding.FORWARDED, "1"), (forwarding.FORWARDED_ROLE, roles))


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()
