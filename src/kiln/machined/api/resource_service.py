"""The ResourceService: read any resource of the node by type name or alias.

Resources go out as JSON (metadata + spec). Sensitive ones are redacted for every client
that is not ``os:admin``: readers and operators never see keys or tokens.

The resource runtime is imported on the first call, not with this module: the early API
(:mod:`kiln.machined.early`) serves before it has loaded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from kiln.machined.api.auth import roles_of
from kiln.machined.api.control import NodeControl
from kiln.machined.api.streams import until_closed
from kiln.machinery.api import common_pb2, resource_pb2, resource_pb2_grpc
from kiln.machinery.roles import Role

if TYPE_CHECKING:
    from kiln.resources import Kind, Resource, ResourceDefinition

Context = Any  # grpc.aio.ServicerContext

_EVENT_TYPES = {  # EventType values
    "created": resource_pb2.CREATED,
    "updated": resource_pb2.UPDATED,
    "destroyed": resource_pb2.DESTROYED,
    "bootstrapped": resource_pb2.BOOTSTRAPPED,
    "errored": resource_pb2.ERRORED,
}


class ResourceService(resource_pb2_grpc.ResourceServiceServicer):
    def __init__(self, node: NodeControl) -> None:
        self.node = node

    def _metadata(self) -> common_pb2.Metadata:
        return common_pb2.Metadata(node=self.node.name)

    def _kind(self, namespace: str, type_name: str) -> tuple[ResourceDefinition, Kind]:
        from kiln.resources import Kind

        described = self.node.registry.get(type_name)
        return described, Kind(namespace or described.namespace, described.type)

    async def Get(
        self, request: resource_pb2.GetRequest, context: Context
    ) -> resource_pb2.GetResponse:
        _, kind = self._kind(request.namespace, request.type)
        found = await self.node.state.get(kind.pointer(request.id))
        item = resource_pb2.Get(metadata=self._metadata(), resource=_encode(found, context))
        return resource_pb2.GetResponse(messages=[item])

    async def List(
        self, request: resource_pb2.ListRequest, context: Context
    ) -> AsyncIterator[resource_pb2.ListResponse]:
        _, kind = self._kind(request.namespace, request.type)
        metadata = self._metadata()
        for found in await self.node.state.list(kind, request.label_selector or None):
            yield resource_pb2.ListResponse(metadata=metadata, resource=_encode(found, context))

    async def Watch(
        self, request: resource_pb2.WatchRequest, context: Context
    ) -> AsyncIterator[resource_pb2.WatchResponse]:
        from kiln.resources import Pointer

        _, kind = self._kind(request.namespace, request.type)
        state = self.node.state
        if request.id:
            watch = state.watch(Pointer(kind.namespace, kind.type, request.id))
        else:
            watch = state.watch_kind(kind, request.label_selector or None)
        metadata = self._metadata()
        async with watch:
            async for event in until_closed(self.node.closing, aiter(watch)):
                answer = resource_pb2.WatchResponse(
                    metadata=metadata, event_type=_EVENT_TYPES[event.type]
                )
                if event.resource is not None:
                    answer.resource.CopyFrom(_encode(event.resource, context))
                if event.error is not None:
                    answer.error = str(event.error)
                yield answer

    async def Definitions(
        self, request: resource_pb2.DefinitionsRequest, context: Context
    ) -> resource_pb2.DefinitionsResponse:
        definitions = [
            resource_pb2.Definition(
                type=described.type,
                aliases=list(described.aliases),
                default_namespace=described.namespace,
                print_columns=[column.name for column in described.print_columns],
                sensitive=described.sensitive,
                description=described.description,
            )
            for described in self.node.registry
        ]
        return resource_pb2.DefinitionsResponse(metadata=self._metadata(), definitions=definitions)


def _encode(resource: Resource[Any], context: Context) -> resource_pb2.Resource:
    from kiln.machinery.resources import redact
    from kiln.resources import to_dict

    visible = resource if Role.ADMIN in roles_of(context) else redact(resource)
    return resource_pb2.Resource(json=json.dumps(to_dict(visible)))
