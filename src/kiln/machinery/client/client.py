"""The machine API client: one channel to one endpoint, typed calls, errors as ClientError.

::

    target = resolve(context, endpoints=["10.5.0.2"])
    async with Client(target) as client:
        for version in await client.version():
            print(version.metadata.node, version.version.tag)
        async for line in client.logs("etcd", tail=20, follow=True):
            print(line)

A target naming nodes other than its endpoint has every call forwarded to them by the endpoint
(the ``nodes`` metadata): answers come labelled with their node (``metadata.node``), and when
some nodes fail the call raises :class:`~.errors.NodeErrors`, which holds what the others
answered. Streams take one node.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc

from kiln.machinery.api import common_pb2, machine_pb2, machine_pb2_grpc, resource_pb2_grpc
from kiln.machinery.api import resource_pb2 as rpb
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.client import credentials, nodes
from kiln.machinery.client.errors import ClientError, NodeErrors, check_answers, translate
from kiln.machinery.client.etcd import EtcdCalls
from kiln.machinery.client.target import Target
from kiln.machinery.drain import DrainOptions
from kiln.machinery.pinning import ChannelSecurity
from kiln.machinery.resources import node_registry
from kiln.resources import EventType, Registry, Resource, ResourceError, from_dict

DEFAULT_TIMEOUT = 30.0
APPLY_TIMEOUT = 900.0  # applying a config may install the OS to a disk first
_T = TypeVar("_T")


@dataclass(frozen=True)
class Dial:
    """Where the channel really goes and how it is secured, when not to the target's address
    (e.g. ``unix:PATH``, a socket that the hub tunnels to a machine's API)."""

    address: str
    security: ChannelSecurity


@dataclass(frozen=True)
class NodeResource:
    """A resource and the node that answered with it."""

    node: str
    resource: Resource[Any]


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch: the resource after the change (None for bootstrapped, errored)."""

    node: str
    type: EventType
    resource: Resource[Any] | None
    error: str = ""


class Client(EtcdCalls):
    """Calls of the machine and resource APIs on one endpoint (see the module docstring); the
    etcd calls and Bootstrap come from :class:`~kiln.machinery.client.etcd.EtcdCalls`."""

    def __init__(
        self,
        target: Target,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        registry: Registry | None = None,
        dial: Dial | None = None,
    ) -> None:
        self.target = target
        self.dial = dial
        self.timeout = timeout
        self.registry = registry or node_registry()
        self._channel: grpc.aio.Channel | None = None
        self._machine: machine_pb2_grpc.MachineServiceAsyncStub | None = None
        self._resources: resource_pb2_grpc.ResourceServiceAsyncStub | None = None

    @property
    def node(self) -> str:
        """The endpoint, as errors name it."""
        if self.target.hub is not None:
            return f"hub {self.target.address}"
        return self.target.address

    async def __aenter__(self) -> Self:
        address = self.target.address
        if self.dial is not None:
            address, security = self.dial.address, self.dial.security
        elif self.target.hub is not None:
            security = credentials.trusting(self.target.hub.ca)
        elif self.target.credentials is None:
            security = await credentials.pinned(self.target)
        else:
            security = credentials.mutual(self.target.credentials)
        options = [*security.options, ("grpc.use_local_subchannel_pool", 1)]
        self._channel = grpc.aio.secure_channel(
            address,
            security.credentials,
            options=options,
            interceptors=nodes.interceptors(self.target),
        )
        self._machine = machine_pb2_grpc.MachineServiceStub(self._channel)
        self._resources = resource_pb2_grpc.ResourceServiceStub(self._channel)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    # Machine ------------------------------------------------------------------------------------

    async def version(self) -> list[machine_pb2.Version]:
        reply = await self._call(self.machine.Version, machine_pb2.VersionRequest())
        return list(reply.messages)

    async def hardware(self) -> list[machine_pb2.Hardware]:
        reply = await self._call(self.machine.Hardware, machine_pb2.HardwareRequest())
        return list(reply.messages)

    async def apply_configuration(
        self,
        data: bytes,
        mode: ApplyMode = ApplyMode.AUTO,
        *,
        dry_run: bool = False,
        try_timeout: float = 0.0,
        drain: DrainOptions | None = None,
    ) -> list[machine_pb2.ApplyConfiguration]:
        """Apply a config; one that needs a reboot has the node drain itself first (as
        ``drain`` says), and the answer waits for that drain."""
        drain = drain or DrainOptions()
        request = machine_pb2.ApplyConfigurationRequest(
            data=data,
            mode=mode.to_proto(),
            dry_run=dry_run,
            try_timeout_seconds=max(0, round(try_timeout)),
            drain=drain.to_proto(),
        )
        within = max(self.timeout, APPLY_TIMEOUT, drain.answer_within)
        reply = await self._call(self.machine.ApplyConfiguration, request, within=within)
        return list(reply.messages)

    async def confirm_configuration(self) -> None:
        request = machine_pb2.ConfirmConfigurationRequest()
        await self._call(self.machine.ConfirmConfiguration, request)

    async def reboot(self, drain: DrainOptions | None = None) -> None:
        """Reboot (after the node drained itself: the answer waits for it)."""
        drain = drain or DrainOptions()
        request = machine_pb2.RebootRequest(drain=drain.to_proto())
        await self._call(self.machine.Reboot, request, within=self._drain_within(drain))

    async def shutdown(self, drain: DrainOptions | None = None) -> None:
        drain = drain or DrainOptions()
        request = machine_pb2.ShutdownRequest(drain=drain.to_proto())
        await self._call(self.machine.Shutdown, request, within=self._drain_within(drain))

    async def reset(self, *, graceful: bool = True, drain: DrainOptions | None = None) -> None:
        """Reset; a graceful reset drains first."""
        drain = drain or DrainOptions()
        request = machine_pb2.ResetRequest(graceful=graceful, drain=drain.to_proto())
        within = self._drain_within(drain) if graceful else None
        await self._call(self.machine.Reset, request, within=within)

    def _drain_within(self, drain: DrainOptions) -> float:
        return max(self.timeout, drain.answer_within)

    async def upgrade(
        self, requests: AsyncIterator[machine_pb2.UpgradeRequest], within: float
    ) -> list[machine_pb2.Upgrade]:
        """Stream an image to the node (the first request holds its manifest and signature);
        ``within`` seconds for all of it."""
        try:
            reply = await self.machine.Upgrade(requests, timeout=within)
        except grpc.aio.AioRpcError as err:
            raise translate(err, self.node) from None
        check_answers(reply)
        return list(reply.messages)

    async def rollback(self) -> list[machine_pb2.Rollback]:
        reply = await self._call(self.machine.Rollback, machine_pb2.RollbackRequest())
        return list(reply.messages)

    async def kubeconfig(self) -> list[machine_pb2.Kubeconfig]:
        reply = await self._call(self.machine.Kubeconfig, machine_pb2.KubeconfigRequest())
        return list(reply.messages)

    async def service_list(self) -> list[machine_pb2.ServiceList]:
        reply = await self._call(self.machine.ServiceList, machine_pb2.ServiceListRequest())
        return list(reply.messages)

    async def service_action(self, action: str, name: str) -> list[machine_pb2.ServiceAction]:
        """``action`` is ``start``, ``stop`` or ``restart``."""
        calls = {
            "start": self.machine.ServiceStart,
            "stop": self.machine.ServiceStop,
            "restart": self.machine.ServiceRestart,
        }
        if action not in calls:
            raise ClientError(f"unknown service action {action!r}")
        reply = await self._call(calls[action], machine_pb2.ServiceRequest(id=name))
        return list(reply.messages)

    async def logs(
        self, service: str, *, tail: int = -1, follow: bool = False
    ) -> AsyncGenerator[str, None]:
        """The lines of a service's log: the last ``tail`` (-1: all kept), then new ones."""
        request = machine_pb2.LogsRequest(id=service, tail_lines=tail, follow=follow)
        async for data in self._stream(self.machine.Logs(request)):
            yield data.bytes.decode("utf-8", "replace")

    async def events(
        self, *, tail: int = -1, follow: bool = False
    ) -> AsyncGenerator[machine_pb2.Event, None]:
        """The last ``tail`` machine events (-1: all kept), then, with ``follow``, new ones."""
        request = machine_pb2.EventsRequest(tail_events=tail, follow=follow)
        async for event in self._stream(self.machine.Events(request)):
            yield event

    # Resources ----------------------------------------------------------------------------------

    async def get(
        self,
        type_name: str,
        resource_id: str | None = None,
        *,
        namespace: str = "",
    ) -> list[NodeResource]:
        """One resource (``resource_id`` given) or all of a type, by type name or alias.

        Listing answers for one node at a time, so a target naming several nodes lists each
        through the endpoint; NodeErrors if some failed (``answered``: the others' resources).
        """
        if resource_id is None and len(self.target.forwarded) > 1:
            return await self._list_each(type_name, namespace)
        if resource_id is not None:
            request = rpb.GetRequest(namespace=namespace, type=type_name, id=resource_id)
            reply = await self._call(self.resources.Get, request)
            return [self._decode(item.metadata, item.resource) for item in reply.messages]
        listing = self.resources.List(
            rpb.ListRequest(namespace=namespace, type=type_name), timeout=self.timeout
        )
        return [self._decode(item.metadata, item.resource) async for item in self._stream(listing)]

    async def _list_each(self, type_name: str, namespace: str) -> list[NodeResource]:
        async def one(node: str) -> list[NodeResource]:
            target = replace(self.target, nodes=(node,))
            async with Client(target, timeout=self.timeout, registry=self.registry) as api:
                return await api.get(type_name, namespace=namespace)

        named = self.target.forwarded
        results = await asyncio.gather(*(one(node) for node in named), return_exceptions=True)
        found: list[NodeResource] = []
        failures: list[ClientError] = []
        for node, result in zip(named, results, strict=True):
            if isinstance(result, ClientError):
                failures.append(ClientError(result.message, code=result.code, node=node))
            elif isinstance(result, BaseException):
                raise result
            else:  # labelled as the caller named the node, as forwarded answers are
                found.extend(replace(item, node=node) for item in result)
        if failures:
            raise NodeErrors(failures, found)
        return found

    async def watch(
        self,
        type_name: str,
        resource_id: str | None = None,
        *,
        namespace: str = "",
    ) -> AsyncGenerator[WatchEvent, None]:
        """Every resource of a type (or one), then each change, until the stream ends."""
        request = rpb.WatchRequest(namespace=namespace, type=type_name, id=resource_id or "")
        async for item in self._stream(self.resources.Watch(request)):
            resource = None
            if item.resource.json:
                resource = self._decode(item.metadata, item.resource).resource
            event_type = EventType(rpb.EventType.Name(item.event_type).lower())
            yield WatchEvent(item.metadata.node, event_type, resource, item.error)

    async def definitions(self) -> list[rpb.Definition]:
        reply = await self._call(self.resources.Definitions, rpb.DefinitionsRequest())
        return list(reply.definitions)

    # Plumbing -----------------------------------------------------------------------------------

    @property
    def machine(self) -> machine_pb2_grpc.MachineServiceAsyncStub:
        if self._machine is None:
            raise ClientError("the client is not connected (use it as 'async with')")
        return self._machine

    @property
    def resources(self) -> resource_pb2_grpc.ResourceServiceAsyncStub:
        if self._resources is None:
            raise ClientError("the client is not connected (use it as 'async with')")
        return self._resources

    async def _call(
        self, method: Callable[..., Awaitable[_T]], request: object, within: float | None = None
    ) -> _T:
        try:
            reply = await method(request, timeout=within or self.timeout)
        except grpc.aio.AioRpcError as err:
            raise translate(err, self.node) from None
        check_answers(reply)
        return reply

    async def _stream(self, call: Any) -> AsyncGenerator[Any, None]:
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as err:
            raise translate(err, self.node) from None
        finally:
            call.cancel()

    def _decode(self, metadata: common_pb2.Metadata, resource: rpb.Resource) -> NodeResource:
        node = metadata.node or self.node
        try:
            data = json.loads(resource.json)
            return NodeResource(node, from_dict(self.registry, data))
        except (ValueError, ResourceError) as exc:
            raise ClientError(f"cannot read a resource the node sent: {exc}", node=node) from None
