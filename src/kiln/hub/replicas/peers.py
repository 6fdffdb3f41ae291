"""Byte streams between replicas: reaching a machine whose link another replica holds.

The replica holding the link serves :class:`PeerService` on its peer port; a replica that
needs the machine opens one Tunnel stream per connection (:class:`PeerEndpoint`), which the
holder splices onto the machine's link like one of its own tunnel connections. Replicas
authenticate each other with client certificates from the shared hub CA, in the organization
:data:`REPLICA_ORGANIZATION` (machines' certificates are in another one).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from datetime import timedelta
from typing import Any

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.hub.errors import MachineUnavailableError
from kiln.hub.links.registry import Links, Sink
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.api import hublink_pb2_grpc
from kiln.machinery.pinning import trusting
from kiln.machinery.secrets import CertificateAuthority, Usage
from kiln.tasks import until_first_ends

logger = logging.getLogger(__name__)

REPLICA_ORGANIZATION = "kiln-hub:replica"
CERTIFICATE_VALIDITY = timedelta(days=365)


class PeerService(hublink_pb2_grpc.HubPeerServiceServicer):
    def __init__(self, links: Links) -> None:
        self._links = links

    async def Tunnel(self, request_iterator: Any, context: Any) -> None:  # type: ignore[override]
        if REPLICA_ORGANIZATION not in _organizations(context):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "only hub replicas tunnel")
            return
        first = await context.read()
        if first is grpc.aio.EOF:
            return
        try:
            link = self._links.get(first.machine)
        except MachineUnavailableError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            return
        incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        conn_id = await link.open(lambda data, _error: incoming.put_nowait(data))

        async def to_machine() -> None:
            if first.data:
                await link.data(conn_id, first.data)
            while (frame := await context.read()) is not grpc.aio.EOF:
                await link.data(conn_id, frame.data)

        async def from_machine() -> None:
            while (data := await incoming.get()) is not None:
                await context.write(pb.PeerFrame(data=data))

        try:
            await until_first_ends(to_machine(), from_machine())
        finally:
            await link.close(conn_id)


class PeerEndpoint:
    """One machine reached through the replica holding its link, with the interface of a
    local link's tunnel connections (open, data, close)."""

    def __init__(self, stub: hublink_pb2_grpc.HubPeerServiceStub, uuid: str) -> None:
        self._stub: Any = stub  # the aio stub: a stream call one writes to
        self._uuid = uuid
        self._calls: dict[int, Any] = {}
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._ids = itertools.count(1)

    async def open(self, sink: Sink) -> int:
        conn_id = next(self._ids)
        call = self._stub.Tunnel()
        await call.write(pb.PeerFrame(machine=self._uuid))
        self._calls[conn_id] = call
        self._readers[conn_id] = asyncio.create_task(self._read(call, sink))
        return conn_id

    async def _read(self, call: Any, sink: Sink) -> None:
        error = ""
        try:
            async for frame in call:
                sink(frame.data, "")
        except grpc.aio.AioRpcError as exc:
            error = exc.details() or str(exc.code())
        sink(None, error)

    async def data(self, conn_id: int, data: bytes) -> None:
        await self._calls[conn_id].write(pb.PeerFrame(data=data))

    async def close(self, conn_id: int) -> None:
        call = self._calls.pop(conn_id, None)
        reader = self._readers.pop(conn_id, None)
        if call is not None:
            call.cancel()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class PeerChannels:
    """One channel per replica address, authenticated with this replica's certificate."""

    def __init__(self, ca: CertificateAuthority, server_pem: bytes, replica: str) -> None:
        issued = ca.issue(
            replica, Usage.CLIENT, CERTIFICATE_VALIDITY, organizations=[REPLICA_ORGANIZATION]
        )
        self._security = trusting(server_pem, (issued.key.pem, issued.certificate.pem))
        self._channels: dict[str, grpc.aio.Channel] = {}

    def endpoint(self, address: str, uuid: str) -> PeerEndpoint:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.secure_channel(
                address, self._security.credentials, options=[*self._security.options]
            )
            self._channels[address] = channel
        return PeerEndpoint(hublink_pb2_grpc.HubPeerServiceStub(channel), uuid)

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()


def _organizations(context: Any) -> set[str]:
    pems = list(context.auth_context().get("x509_pem_cert") or [])
    if not pems:
        return set()
    subject = x509.load_pem_x509_certificate(pems[0]).subject
    return {str(name.value) for name in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)}
