"""The machine port (mutual TLS): each machine's one long-lived connection.

The TLS handshake has checked the client certificate against the hub CA; here its Common Name
(the machine's UUID) and serial must be those of the machine's last join, the machine must
not be revoked, and the first message (Hello) must carry the machine's secret. Then the hub
records the machine as connected with the facts it sent, relays tunnel frames both ways and
answers pings, until the connection ends. One sweeper pings every machine it has not heard
from for a while and drops those that do not answer (:mod:`kiln.machinery.hubjoin.keepalive`).
The wire format is :mod:`kiln.machinery.hubjoin.frames`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from kiln.hub import clock
from kiln.hub.auth import secrets
from kiln.hub.errors import HubError
from kiln.hub.links.machines import Machines, disconnected_from
from kiln.hub.links.registry import Links, MachineLink
from kiln.hub.resources import DiskFact, MachineFacts, MachineSpec
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.hubjoin import keepalive
from kiln.machinery.hubjoin.frames import FrameError, encode, read_message, small_tls_buffers
from kiln.machinery.hubjoin.keepalive import Due, Liveness
from kiln.machinery.sslpair import load_pair

logger = logging.getLogger(__name__)

HELLO_WITHIN = 30.0  # seconds from the handshake to the machine's Hello
CLOSE_WITHIN = 5.0
PING = encode(pb.HubMessage(heartbeat=pb.Heartbeat()))
ANSWER = encode(pb.HubMessage(heartbeat=pb.Heartbeat(answer=True)))


class _Connection:
    """A machine's accepted connection, as the sweeper sees it."""

    __slots__ = ("liveness", "uuid", "writer")

    def __init__(self, uuid: str, writer: asyncio.StreamWriter, liveness: Liveness) -> None:
        self.uuid = uuid
        self.writer = writer
        self.liveness = liveness


class MachinePort:
    def __init__(
        self, machines: Machines, links: Links, replica: str, ping_interval: float
    ) -> None:
        self._machines = machines
        self._replica = replica
        self._links = links
        self._ping_interval = ping_interval
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._handlers: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._accepted: set[_Connection] = set()

    async def start(self, address: str, identity: tuple[bytes, bytes], ca: bytes) -> None:
        """Listen on ``address`` (HOST:PORT) with ``identity`` (key, certificate PEM),
        taking client certificates from ``ca``."""
        host, _, port = address.rpartition(":")
        small_tls_buffers()
        try:
            self._server = await asyncio.start_server(
                self._serve,
                host.strip("[]") or None,
                int(port),
                ssl=_server_context(identity, ca),
                backlog=socket.SOMAXCONN,  # every machine dials again at once after a restart
            )
        except OSError as exc:
            raise HubError(f"cannot listen on {address}: {exc.strerror or exc}") from None
        self._sweeper = asyncio.create_task(self._sweep(), name="machine pings")

    async def close(self) -> None:
        """Stop listening, end every machine's connection and wait (a while) for their
        handlers to record the machines as disconnected."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.wait({self._sweeper})
        handlers = dict(self._handlers)
        for writer in handlers.values():
            writer.transport.abort()
        if handlers:
            await asyncio.wait(handlers, timeout=CLOSE_WITHIN)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # always, in a connection's handler
            self._handlers[task] = writer
        try:
            await self._converse(reader, writer)
        except (FrameError, OSError, TimeoutError) as exc:
            logger.info("machine connection from %s: %s", _address(writer), exc)
        except Exception:
            logger.exception("machine connection from %s failed", _address(writer))
        finally:
            if task is not None:
                self._handlers.pop(task, None)
            await _close(writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uuid, serial = _peer(writer)
        machine = await self._machines.find(uuid)
        if machine is None or machine.spec.revoked or machine.spec.certificate_serial != serial:
            why = "is revoked" if machine is not None and machine.spec.revoked else "is not valid"
            await _refuse(writer, f"the certificate of machine {uuid} {why}")
            return
        async with asyncio.timeout(HELLO_WITHIN):
            first = await read_message(reader, pb.MachineMessage)
        if first is None or not first.HasField("hello"):
            return
        if not secrets.matches(first.hello.secret, machine.spec.secret_hash):
            await _refuse(writer, f"machine {uuid}: wrong machine secret")
            return

        async def write(message: pb.HubMessage) -> None:
            writer.write(encode(message))
            await writer.drain()

        async def end(reason: str) -> None:
            _send_refusal(writer, reason)  # the handler, cancelled next, waits for the close

        link = MachineLink(uuid, write, asyncio.current_task(), end, first.hello.facts)
        previous = self._links.add(link)
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        await self._machines.change(uuid, _connected(first.hello.facts, self._replica, new=True))
        logger.info("machine %s connected (%d connected)", uuid, len(self._links))
        loop = asyncio.get_running_loop()
        accepted = _Connection(uuid, writer, Liveness(self._ping_interval, loop.time()))
        self._accepted.add(accepted)
        try:
            while (message := await read_message(reader, pb.MachineMessage)) is not None:
                accepted.liveness.heard_from(loop.time())
                await self._handle(link, writer, message)
        finally:
            self._accepted.discard(accepted)
            link.drop()
            if self._links.remove(link):
                await asyncio.shield(self._machines.change(uuid, disconnected_from(self._replica)))
                logger.info("machine %s disconnected", uuid)

    async def _handle(
        self, link: MachineLink, writer: asyncio.StreamWriter, message: pb.MachineMessage
    ) -> None:
        kind = message.WhichOneof("kind")
        if kind == "frame":
            link.deliver(message.frame)
        elif kind == "heartbeat" and not message.heartbeat.answer:
            writer.write(ANSWER)
        elif kind == "facts":
            link.facts = message.facts
            await self._machines.change(link.uuid, _connected(message.facts, self._replica))

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        tick = keepalive.tick(self._ping_interval)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for each in list(self._accepted):
                due = each.liveness.due(now)
                if due is Due.PING:
                    each.writer.write(PING)
                elif due is Due.SILENT:
                    logger.warning(
                        "machine %s did not answer a ping within %g s: dropping its connection",
                        each.uuid,
                        each.liveness.timeout,
                    )
                    self._accepted.discard(each)
                    each.writer.transport.abort()


def _send_refusal(writer: asyncio.StreamWriter, reason: str) -> None:
    """Tell the machine why it is refused and begin closing (once)."""
    if not writer.is_closing():  # a second close of a TLS transport breaks its abort
        writer.write(encode(pb.HubMessage(refused=reason)))
        writer.close()


async def _refuse(writer: asyncio.StreamWriter, reason: str) -> None:
    _send_refusal(writer, reason)
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close after what was written (a refusal) is sent; cut it if that takes long."""
    if not writer.is_closing():  # a second close of a TLS transport breaks its abort
        writer.close()
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()


def _server_context(identity: tuple[bytes, bytes], ca: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    key, certificate = identity
    load_pair(context, certificate, key)
    context.load_verify_locations(cadata=ca.decode("ascii"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def _peer(writer: asyncio.StreamWriter) -> tuple[str, str]:
    tls: Any = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    if not der:
        return "", ""
    certificate = x509.load_der_x509_certificate(der)
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
