"""The machine APIs on the hub's API port: ``kilnctl`` with a kilnconfig from ``kiln-hub
kilnconfig`` calls the hub, which relays each call to machines of the cluster it names.

Every method of MachineService and ResourceService is served here by one generic handler per
call shape (unary, server stream, client stream, both), on raw bytes: the request goes to the
machine as it came, through the machine's own connection to the hub (:class:`MachineRelay`,
with a client certificate of the role the key acts as: the machine authorizes and redacts as
for that role), and the answer comes back. The access interceptor
(:mod:`~kiln.hub.api.access`) has authenticated the API key and checked its role against the
machine API's table first; it records the calls a reader may not make in the audit log, with
the machine the handler names in :data:`~kiln.hub.api.access.AUDIT_TARGET`.

The target comes from the ``nodes`` metadata (:mod:`~kiln.hub.api.cluster_nodes`): none is the
cluster's first control plane; one is relayed to as is, its answers labelled with the name the
caller gave; several are asked at once when the method's answer merges (``repeated messages``,
as a node forwarding a call does: a machine that fails adds a message saying so), and refused
otherwise (streams and the rest answer for one machine at a time). No metadata of the caller
(its API key above all) reaches the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

from kiln.errors import KilnError
from kiln.hub.api.access import AUDIT_TARGET, CALLER
from kiln.hub.api.cluster_nodes import ClusterNode, ClusterNodes
from kiln.hub.api.relay import MachineRelay
from kiln.hub.api.status import status_of
from kiln.hub.auth.permissions import MACHINE_ROLES, RELAYED_SERVICES
from kiln.hub.errors import InvalidRequestError
from kiln.machinery import forwarding, node_answers
from kiln.machinery.api import machine_pb2, resource_pb2
from kiln.machinery.client import ClientError
from kiln.machinery.roles import Role

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]

Context = grpc.aio.ServicerContext[Any, Any]
Picked = list[tuple[str, ClusterNode]]


def relayed_methods() -> list[tuple[str, bool, bool]]:
    """Every method of the relayed services: its full name, client and server streaming."""
    found = []
    for module in (machine_pb2, resource_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                name = f"/{service.full_name}/{method.name}"
                if name.startswith(RELAYED_SERVICES):
                    found.append((name, method.client_streaming, method.server_streaming))
    return found


class MachineProxy(grpc.GenericRpcHandler):
    """Serves the relayed methods (see the module docstring)."""

    def __init__(self, nodes: ClusterNodes, relay: MachineRelay) -> None:
        self._nodes = nodes
        self._relay = relay
        self._handlers = {
            name: self._handler(name, client_streaming, server_streaming)
            for name, client_streaming, server_streaming in relayed_methods()
        }

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        return self._handlers.get(handler_call_details.method)

    def _handler(self, method: str, client_streaming: bool, server_streaming: bool) -> Handler:
        output = node_answers.response_class(method)
        if not client_streaming and not server_streaming:

            async def unary(request: bytes, context: Context) -> bytes:
                picked = await self._pick(method, context, fan_out=node_answers.mergeable(output))
                if len(picked) > 1:
                    return await self._fan_out(method, output, picked, request, context)
                label, node = picked[0]
                async with self._relay.channel(node.uuid, _role()) as channel:
                    call: Any = channel.unary_unary(method)
                    answer = await _relayed(label, node, call(request, timeout=_left(context)))
                return _labelled(answer, output, label)

            return grpc.unary_unary_rpc_method_handler(unary)
        if client_streaming and not server_streaming:

            async def client_stream(requests: AsyncIterator[bytes], context: Context) -> bytes:
                ((label, node),) = await self._pick(method, context)
                async with self._relay.channel(node.uuid, _role()) as channel:
                    call: Any = channel.stream_unary(method)
                    answer = await _relayed(label, node, call(requests, timeout=_left(context)))
                return _labelled(answer, output, label)

            return grpc.stream_unary_rpc_method_handler(client_stream)

        async def streaming(request: Any, context: Context) -> AsyncIterator[bytes]:
            ((label, node),) = await self._pick(method, context)
            async with self._relay.channel(node.uuid, _role()) as channel:
                call: Any
                if client_streaming:
                    call = channel.stream_stream(method)(request, timeout=_left(context))
                else:
                    call = channel.unary_stream(method)(request, timeout=_left(context))
                try:
                    async for item in call:
                        yield _labelled(item, output, label)
                except grpc.aio.AioRpcError as err:
                    raise _failed(label, node, err) from None
                finally:
                    call.cancel()

        if client_streaming:
            return grpc.stream_stream_rpc_method_handler(streaming)
        return grpc.unary_stream_rpc_method_handler(streaming)

    async def _pick(self, method: str, context: Context, *, fan_out: bool = False) -> Picked:
        """The machines the call is for (one unless ``fan_out``); names them for the audit."""
        metadata = context.invocation_metadata()
        cluster = next(iter(forwarding.values(metadata, forwarding.CLUSTER)), "")
        view = await self._nodes.view(cluster)
        picked = view.pick(forwarding.split(forwarding.values(metadata, forwarding.NODES)))
        AUDIT_TARGET.set(f"{cluster}: " + ", ".join(str(node) for _, node in picked))
        if len(picked) > 1 and not fan_out:
            short = method.rsplit("/", 1)[-1]
            raise InvalidRequestError(
                f"{short} answers for one machine at a time: name exactly one with -n"
            )
        return picked

    async def _fan_out(
        self, method: str, output: type[Message], picked: Picked, request: bytes, context: Context
    ) -> bytes:
        """Every machine's answer, merged and labelled; a failure is a message of its own."""
        element = node_answers.element_class(output)

        async def one(label: str, node: ClusterNode) -> list[Message]:
            try:
                async with self._relay.channel(node.uuid, _role()) as channel:
                    call: Any = channel.unary_unary(method)
                    within = node_answers.budget(_left(context))
                    answer = await _relayed(label, node, call(request, timeout=within))
            except (KilnError, OSError) as err:
                code, message = status_of(err)
                return [node_answers.failure(element, label, code, message)]
            found = list(node_answers.messages(output.FromString(answer)))
            for message in found:
                node_answers.label(message, label)
            return found

        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(one(label, node), name=f"relay to {label}")
                for label, node in picked
            ]
        merged = output()
        for task in tasks:
            node_answers.messages(merged).extend(task.result())
        return merged.SerializeToString()


async def _relayed(label: str, node: ClusterNode, call: Awaitable[bytes]) -> bytes:
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        raise _failed(label, node, err) from None


def _failed(label: str, node: ClusterNode, err: grpc.aio.AioRpcError) -> ClientError:
    """The machine's refusal or failure, as the client error the boundary translates."""
    details = err.details() or err.code().name.lower().replace("_", " ")
    return ClientError(f"{label or node.hostname or node.address}: {details}", code=err.code().name)


def _labelled(answer: bytes, output: type[Message], label: str) -> bytes:
    """The answer with every message naming the machine as the caller did (none: as is)."""
    if not label:
        return answer
    message = output.FromString(answer)
    node_answers.label_all(message, label)
    return message.SerializeToString()


def _role() -> Role:
    """The role the caller's key acts as on the machine (the interceptor admitted it)."""
    return MACHINE_ROLES[CALLER.get().role]


def _left(context: Context) -> float | None:
    return context.time_remaining()
