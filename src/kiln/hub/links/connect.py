"""Connect (the machine port, mutual TLS): a machine's one long-lived stream.

The TLS handshake has checked the client certificate against the hub CA; here its Common Name
(the machine's UUID) and serial must be those of the machine's last join, the machine must
not be revoked, and the first message (Hello) must carry the machine's secret. Then the hub
records the machine as connected with the facts it sent, relays tunnel frames both ways and
answers heartbeats (a machine sends one after Hello, to learn that it was accepted), until the
stream ends. The transport pings the machine and ends the stream of one that stops answering
(:mod:`kiln.machinery.hubjoin.keepalive`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.hub import clock
from kiln.hub.auth import secrets
from kiln.hub.links.machines import Machines, disconnected_from
from kiln.hub.links.registry import Links, MachineLink
from kiln.hub.resources import DiskFact, MachineFacts, MachineSpec
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.api import hublink_pb2_grpc

logger = logging.getLogger(__name__)


class LinkService(hublink_pb2_grpc.HubLinkServiceServicer):
    def __init__(self, machines: Machines, links: Links, replica: str) -> None:
        self._machines = machines
        self._replica = replica
        self._links = links

    async def Connect(self, request_iterator: Any, context: Any) -> None:  # type: ignore[override]
        uuid, serial = _peer(context)
        machine = await self._machines.find(uuid)
        if machine is None or machine.spec.revoked or machine.spec.certificate_serial != serial:
            why = "is revoked" if machine is not None and machine.spec.revoked else "is not valid"
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, f"the certificate of machine {uuid} {why}"
            )
            return
        first = await self._read(context)
        if first is None or not first.HasField("hello"):
            return
        if not secrets.matches(first.hello.secret, machine.spec.secret_hash):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, f"machine {uuid}: wrong machine secret"
            )
            return

        async def end(reason: str) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        link = MachineLink(uuid, context.write, asyncio.current_task(), end, first.hello.facts)
        previous = self._links.add(link)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        await self._machines.change(uuid, _connected(first.hello.facts, self._replica, new=True))
        logger.info("machine %s connected (%d connected)", uuid, len(self._links))
        try:
            while (message := await self._read(context)) is not None:
                await self._handle(link, message)
        except Exception:
            logger.exception("machine %s: its stream failed", uuid)
            raise
        finally:
            link.drop()
            if self._links.remove(link):
                await asyncio.shield(self._machines.change(uuid, disconnected_from(self._replica)))
                logger.info("machine %s disconnected", uuid)

    async def _read(self, context: Any) -> pb.MachineMessage | None:
        try:
            message = await context.read()
        except grpc.aio.AbortError:  # cut off (revoked)
            return None
        return None if message is grpc.aio.EOF else message

    async def _handle(self, link: MachineLink, message: pb.MachineMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "frame":
            link.deliver(message.frame)
        elif kind == "heartbeat":
            await link.send(pb.HubMessage(heartbeat=pb.Heartbeat()))
        elif kind == "facts":
            link.facts = message.facts
            await self._machines.change(link.uuid, _connected(message.facts, self._replica))


def _peer(context: Any) -> tuple[str, str]:
    pems = list(context.auth_context().get("x509_pem_cert") or [])
    if not pems:
        return "", ""
    certificate = x509.load_pem_x509_certificate(pems[0])
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return (str(names[0].value) if names else ""), str(certificate.serial_number)


def facts_of(facts: pb.Facts) -> MachineFacts:
    return MachineFacts(
        hostname=facts.hostname,
        addresses=list(facts.addresses),
        version=facts.version,
        arch=facts.arch,
        os=facts.os,
        stage=facts.stage,
        maintenance=facts.maintenance,
        cpus=facts.cpus,
        memory=facts.memory,
        disks=[DiskFact(device=d.device, size=d.size, model=d.model) for d in facts.disks],
        interfaces=list(facts.interfaces),
        platform=facts.platform,
        api_certificate=facts.api_certificate.decode("ascii", "replace"),
    )


def _connected(facts: pb.Facts, replica: str, *, new: bool = False) -> Any:
    """The change for a link coming up (``new``) or reporting new facts."""

    def change(spec: MachineSpec) -> None:
        now = clock.now()
        if new or not spec.connected or spec.connected_since is None:
            spec.connected_since = now
        spec.connected = True
        spec.replica = replica
        spec.last_seen = now
        spec.facts = facts_of(facts)

    return change
