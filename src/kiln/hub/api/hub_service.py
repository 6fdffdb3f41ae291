"""HubService: API keys, join tokens, the audit log, the inventory and relayed machine calls.

Authorization and the audit happen before and after each handler
(:mod:`~kiln.hub.api.access`); handlers only do the work.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from kiln.hub.api.inventory_view import InventoryView
from kiln.hub.api.relay import MachineRelay
from kiln.hub.auth.audit import AuditLog
from kiln.hub.auth.join_tokens import JoinTokens
from kiln.hub.auth.keys import ApiKeys
from kiln.hub.auth.roles import HubRole
from kiln.hub.errors import InvalidRequestError, NotFoundError
from kiln.hub.links.machines import Machines
from kiln.hub.links.registry import Links
from kiln.hub.resources import (
    HubReplicaSpec,
    MachineCredentialsSpec,
    MachineLabelsSpec,
    MachineSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.machine_status import LOCKED_LABEL, SYSTEM_PREFIX
from kiln.machinery.api import common_pb2, hub_pb2, hub_pb2_grpc
from kiln.machinery.client import MutualTLS
from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets import Certificate, KeyPair
from kiln.resources import (
    EventType,
    Kind,
    Pointer,
    Resource,
    State,
    cast_spec,
    to_dict,
)
from kiln.resources import (
    NotFoundError as ResourceNotFound,
)

MAX_LABEL = 63


def _listing(resources: list[Resource[Any]]) -> hub_pb2.ResourceList:
    return hub_pb2.ResourceList(resources=[json.dumps(to_dict(r)) for r in resources])


class HubService(hub_pb2_grpc.HubServiceServicer):
    def __init__(
        self,
        state: State,
        keys: ApiKeys,
        tokens: JoinTokens,
        audit: AuditLog,
        machines: Machines,
        links: Links,
        relay: MachineRelay,
        inventory: InventoryView,
        url: str,
    ) -> None:
        self._inventory = inventory
        self._state = state
        self._keys = keys
        self._tokens = tokens
        self._audit = audit
        self._machines = machines
        self._links = links
        self._relay = relay
        self._url = url

    # API keys -----------------------------------------------------------------------------------

    async def CreateApiKey(self, request: Any, context: Any) -> Any:
        try:
            role = HubRole.parse(request.role)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        key_id, text = await self._keys.create(role, request.expires_seconds, request.description)
        return hub_pb2.CreateApiKeyResponse(id=key_id, key=text)

    async def ListApiKeys(self, request: Any, context: Any) -> Any:
        return _listing(_without_hashes(await self._keys.list()))

    async def RevokeApiKey(self, request: Any, context: Any) -> Any:
        await self._keys.revoke(request.id)
        return hub_pb2.RevokeResponse()

    # Join tokens --------------------------------------------------------------------------------

    async def CreateJoinToken(self, request: Any, context: Any) -> Any:
        token = await self._tokens.create(request.expires_seconds, request.description)
        return hub_pb2.CreateJoinTokenResponse(id=token.id, token=str(token), url=self._url)

    async def ListJoinTokens(self, request: Any, context: Any) -> Any:
        return _listing(_without_hashes(await self._tokens.list()))

    async def RevokeJoinToken(self, request: Any, context: Any) -> Any:
        await self._tokens.revoke(request.id)
        return hub_pb2.RevokeResponse()

    # Audit --------------------------------------------------------------------------------------

    async def ListAudit(self, request: Any, context: Any) -> Any:
        since = None
        if request.since_unix_ms:
            since = datetime.fromtimestamp(request.since_unix_ms / 1000, UTC)
        return _listing(await self._audit.since(since))

    # Inventory ----------------------------------------------------------------------------------

    async def ListMachines(self, request: Any, context: Any) -> Any:
        return hub_pb2.ResourceList(resources=await self._inventory.list(request.selector))

    async def ListReplicas(self, request: Any, context: Any) -> Any:
        return _listing(await self._state.list(Kind.of(HubReplicaSpec), request.selector or None))

    async def WatchMachines(self, request: Any, context: Any) -> AsyncIterator[hub_pb2.WatchEvent]:
        watch = self._state.watch_kind(Kind.of(MachineStatusSpec), request.selector or None)
        async with watch:
            async for event in watch:
                if event.type is EventType.ERRORED:
                    return
                body = json.dumps(to_dict(event.resource)) if event.resource is not None else ""
                yield hub_pb2.WatchEvent(type=event.type.value, resource=body)

    async def LabelMachine(self, request: Any, context: Any) -> Any:
        await self._machines.require(request.id)
        changes = dict(request.set)
        for key in [*changes, *request.remove]:
            _check_label_key(key)
        for value in changes.values():
            if len(value) > MAX_LABEL:
                raise InvalidRequestError(f"label value {value!r:.70} is longer than {MAX_LABEL}")
        ptr = Pointer.of(MachineLabelsSpec, request.id)
        try:
            found = cast_spec(await self._state.get(ptr), MachineLabelsSpec)
        except ResourceNotFound:
            found = await self._state.create(Resource.new(request.id, MachineLabelsSpec()))
        labels = {**found.spec.labels, **changes}
        for key in request.remove:
            labels.pop(key, None)
        found.spec = MachineLabelsSpec(labels=labels)
        await self._state.update(found)
        return _listing([found])

    async def RevokeMachine(self, request: Any, context: Any) -> Any:
        def revoked(spec: MachineSpec) -> None:
            spec.revoked = True
            spec.certificate_serial = ""

        await self._machines.change(request.id, revoked)
        await self._links.cut(request.id, f"machine {request.id} is revoked")
        return hub_pb2.RevokeResponse()

    async def SetMachineCredentials(self, request: Any, context: Any) -> Any:
        await self._machines.require(request.id)
        try:
            tls = MutualTLS(request.ca, request.crt, request.key)
            ca = Certificate.from_pem(tls.ca, "ca")
            crt = Certificate.from_pem(tls.crt, "crt")
            KeyPair.from_pem(tls.key, "key")
        except SecretsError as exc:
            raise InvalidRequestError(f"machine credentials: {exc}") from None
        if crt.x509().issuer != ca.x509().subject:
            raise InvalidRequestError("machine credentials: crt does not come from ca")
        spec = MachineCredentialsSpec(
            ca=tls.ca.decode(), crt=tls.crt.decode(), key=tls.key.decode()
        )
        ptr = Pointer.of(MachineCredentialsSpec, request.id)
        try:
            found = await self._state.get(ptr)
        except ResourceNotFound:
            await self._state.create(Resource.new(request.id, spec))
        else:
            found.spec = spec
            await self._state.update(found)
        return hub_pb2.MachineCredentialsResponse()

    # Relayed machine calls ----------------------------------------------------------------------

    async def MachineVersion(self, request: Any, context: Any) -> Any:
        await self._machines.require(request.id)
        async with self._relay.client(request.id) as client:
            answers = await client.version()
        if not answers:
            raise NotFoundError(f"machine {request.id} answered with no version")
        found = answers[0]
        return hub_pb2.MachineVersionResponse(
            tag=found.version.tag,
            python=found.version.python,
            os=found.version.os,
            arch=found.version.arch,
            maintenance=found.maintenance,
            node=found.metadata.node,
        )

    async def MachineLogs(self, request: Any, context: Any) -> AsyncIterator[common_pb2.Data]:
        await self._machines.require(request.id)
        async with self._relay.client(request.id) as client:
            lines = client.logs(request.service, tail=request.tail_lines, follow=request.follow)
            async for line in lines:
                yield common_pb2.Data(bytes=line.encode())


def _without_hashes(resources: list[Resource[Any]]) -> list[Resource[Any]]:
    """Keys and tokens as clients see them: no hash of their secret."""
    for resource in resources:
        resource.spec = resource.spec.model_copy(update={"secret_hash": ""})
    return resources


def _check_label_key(key: str) -> None:
    if not key or len(key) > 2 * MAX_LABEL or any(c in key for c in " ,=!()"):
        raise InvalidRequestError(f"{key!r:.70} is not a valid label key")
    if key.startswith(SYSTEM_PREFIX) and key != LOCKED_LABEL:
        raise InvalidRequestError(
            f"label {key}: keys under {SYSTEM_PREFIX} are the hub's system labels "
            f"(but {LOCKED_LABEL})"
        )
