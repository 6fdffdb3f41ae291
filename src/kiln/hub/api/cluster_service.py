"""ClusterService: clusters from templates. A sync stores the template as the Cluster's spec
(the controllers of :mod:`kiln.hub.controllers.clusters` do the rest); a delete tears the
Cluster down, and :meth:`ClusterService.run` destroys it once its controllers let it go
(its machines are released).

Authorization and the audit happen around each handler (:mod:`~kiln.hub.api.access`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
from typing import Any

from kiln.hub.errors import InvalidRequestError, NotFoundError, TemplateError
from kiln.hub.resources import ClusterMachineSpec, ClusterSpec, ClusterStatusSpec
from kiln.hub.templates.dump import dump_template
from kiln.hub.templates.load import load_template
from kiln.hub.templates.model import ClusterTemplate
from kiln.machinery.api import hub_pb2, hubcluster_pb2, hubcluster_pb2_grpc
from kiln.resources import (
    EventType,
    FinalizersPendingError,
    Kind,
    Phase,
    Pointer,
    Resource,
    State,
    cast_spec,
    to_dict,
)
from kiln.resources import NotFoundError as ResourceNotFound

logger = logging.getLogger(__name__)


class ClusterService(hubcluster_pb2_grpc.ClusterServiceServicer):
    def __init__(self, state: State) -> None:
        self._state = state

    async def SyncCluster(self, request: Any, context: Any) -> Any:
        template = self._template(request)
        current = await self._find(template.cluster.name)
        await self._check(template, current)
        changes = _changes(current, template)
        if current is None:
            await self._state.create(
                Resource.new(template.cluster.name, ClusterSpec(template=template))
            )
            return hubcluster_pb2.SyncClusterResponse(created=True, changes=changes)
        if changes:
            current.spec = ClusterSpec(template=template)
            await self._state.update(current)
        return hubcluster_pb2.SyncClusterResponse(changes=changes)

    async def DiffCluster(self, request: Any, context: Any) -> Any:
        template = self._template(request)
        current = await self._find(template.cluster.name)
        await self._check(template, current)
        changes = _changes(current, template)
        return hubcluster_pb2.SyncClusterResponse(created=current is None, changes=changes)

    async def DeleteCluster(self, request: Any, context: Any) -> Any:
        cluster = await self._require(request.id)
        machines = await self._machines_of(cluster.id)
        if await self._state.teardown(cluster.pointer):
            await self._state.destroy(cluster.pointer)
        return hubcluster_pb2.DeleteClusterResponse(machines=len(machines))

    async def GetCluster(self, request: Any, context: Any) -> Any:
        cluster = await self._require(request.id)
        found: list[Resource[Any]] = [cluster]
        with contextlib.suppress(ResourceNotFound):
            found.append(await self._state.get(Pointer.of(ClusterStatusSpec, cluster.id)))
        return hub_pb2.ResourceList(resources=[json.dumps(to_dict(r)) for r in found])

    async def ListClusters(self, request: Any, context: Any) -> Any:
        found = await self._state.list(Kind.of(ClusterStatusSpec))
        return hub_pb2.ResourceList(resources=[json.dumps(to_dict(r)) for r in found])

    async def ExportCluster(self, request: Any, context: Any) -> Any:
        cluster = await self._require(request.id)
        return hubcluster_pb2.ExportClusterResponse(template=dump_template(cluster.spec.template))

    async def run(self) -> None:
        """Destroy deleted clusters once nothing holds them (their machines are free)."""
        async with self._state.watch_kind(Kind.of(ClusterSpec)) as watch:
            async for event in watch:
                found = event.resource
                if event.type is EventType.ERRORED:
                    logger.warning("cluster watch ended: %s", event.error)
                    return
                if found is None or found.metadata.phase is not Phase.TEARING_DOWN:
                    continue
                if not found.metadata.finalizers:
                    try:
                        await self._state.destroy(found.pointer)
                    except (ResourceNotFound, FinalizersPendingError):
                        continue
                    logger.info("cluster %s deleted: its machines are free", found.id)

    # Helpers ------------------------------------------------------------------------------------

    def _template(self, request: Any) -> ClusterTemplate:
        template = load_template(request.template, "template")
        if request.id and request.id != template.cluster.name:
            raise InvalidRequestError(
                f"the request names cluster {request.id}, the template {template.cluster.name}"
            )
        return template

    async def _check(
        self, template: ClusterTemplate, current: Resource[ClusterSpec] | None
    ) -> None:
        """What only the hub can tell: the cluster is not being deleted, its bootstrap machine
        stays, and the machines it names are in no other cluster."""
        name = template.cluster.name
        problems: list[str] = []
        if current is not None and current.metadata.phase is Phase.TEARING_DOWN:
            raise InvalidRequestError(f"cluster {name} is being deleted; sync it once it is gone")
        allocated = [
            cast_spec(r, ClusterMachineSpec)
            for r in await self._state.list(Kind.of(ClusterMachineSpec))
        ]
        named = {uuid: s.set_name for s in template.machine_sets() for uuid in s.machines}
        for cm in allocated:
            if cm.spec.cluster != name and cm.id in named:
                problems.append(f"{named[cm.id]}: machine {cm.id} is in cluster {cm.spec.cluster}")
            if cm.spec.cluster == name and cm.spec.bootstrap:
                plane = template.control_plane
                if plane.machine_selector is None and cm.id not in plane.machines:
                    problems.append(
                        f"{plane.set_name}: machine {cm.id} bootstrapped the cluster's etcd and "
                        "holds its endpoint: it stays while the cluster exists"
                    )
        if problems:
            raise TemplateError(f"cluster {name}", problems)

    async def _find(self, name: str) -> Resource[ClusterSpec] | None:
        try:
            return cast_spec(await self._state.get(Pointer.of(ClusterSpec, name)), ClusterSpec)
        except ResourceNotFound:
            return None

    async def _require(self, name: str) -> Resource[ClusterSpec]:
        found = await self._find(name)
        if found is None:
            raise NotFoundError(f"no cluster named {name!r}")
        return found

    async def _machines_of(self, name: str) -> list[Resource[Any]]:
        found = await self._state.list(Kind.of(ClusterMachineSpec))
        return [r for r in found if cast_spec(r, ClusterMachineSpec).spec.cluster == name]


def _changes(current: Resource[ClusterSpec] | None, template: ClusterTemplate) -> list[str]:
    old = dump_template(current.spec.template).splitlines() if current else []
    new = dump_template(template).splitlines()
    if old == new:
        return []
    return list(difflib.unified_diff(old, new, "hub", "template", lineterm=""))
