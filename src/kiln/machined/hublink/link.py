"""The machine's one connection to the hub, kept up for as long as the machine runs.

Join once (when nothing from an earlier join to this URL is kept), then connect to the hub's
machine port with the issued certificate (mutual TLS, :mod:`kiln.machinery.hubjoin.frames`):
Hello (secret and facts), then new facts when they change, and tunnel frames. The link pings
a hub it has not heard from for a while (:mod:`kiln.machinery.hubjoin.keepalive`).
Whenever the connection ends (the hub restarted, the network cut, a ping not answered) the
link connects again after a jittered, capped exponential backoff.
A hub that refuses the machine's certificate makes it join again; a refused join is retried
at the longest backoff (the token may be fixed, the revocation lifted).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from cryptography import x509

from kiln.machined.hublink.bridge import Bridge
from kiln.machined.hublink.identity import HubIdentity, Joined
from kiln.machined.hublink.join import HubJoinError, hub_address, join
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.hubjoin import keepalive, parse_join_token
from kiln.machinery.hubjoin.frames import FrameError, encode, read_message, small_tls_buffers
from kiln.machinery.hubjoin.keepalive import Due, Liveness
from kiln.machinery.pinning import name_of

logger = logging.getLogger(__name__)

FACTS_CHECK = 5.0
FACTS_WITHIN = 60.0  # a read of the facts that takes longer is given up, and tried again
FIRST_BACKOFF = 0.5
CONNECT_WITHIN = 20.0  # seconds for the TCP and TLS handshakes with the hub
PING = encode(pb.MachineMessage(heartbeat=pb.Heartbeat()))
ANSWER = encode(pb.MachineMessage(heartbeat=pb.Heartbeat(answer=True)))

#: The machine's UUID and its current facts (waits until the machine knows its UUID).
FactsSource = Callable[[], Awaitable[tuple[str, pb.Facts]]]


class HubLink:
    def __init__(
        self,
        url: str,
        token: str,
        directory: Path,
        facts: FactsSource,
        *,
        api_address: tuple[str, int],
        max_backoff: float = 60.0,
        ping_interval: float = keepalive.INTERVAL,
    ) -> None:
        self.url = url
        self.token = parse_join_token(token)
        self._identity = HubIdentity(directory)
        self._facts = facts
        self._api_address = api_address
        self._max_backoff = max_backoff
        self._ping_interval = ping_interval
        self.connected = asyncio.Event()
        small_tls_buffers()

    async def run(self) -> None:
        """Join, connect and reconnect until cancelled."""
        failures = 0
        while True:
            try:
                await self._session()
                failures = 0
            except HubJoinError as err:
                logger.error("hub %s: %s", self.url, err)
                failures = 1000 if err.permanent else failures + 1
            except (grpc.aio.AioRpcError, OSError, FrameError, TimeoutError) as err:
                failures += 1
                logger.warning("hub %s: connection lost: %s", self.url, _describe(err))
            self.connected.clear()
            await asyncio.sleep(self.delay_after(failures))

    def delay_after(self, failures: int) -> float:
        """How long to wait after ``failures`` failed attempts in a row: jittered, capped."""
        cap = min(self._max_backoff, FIRST_BACKOFF * 2 ** min(failures, 20))
        return random.uniform(cap / 2, cap)

    async def _session(self) -> None:
        uuid, facts = await self._facts()
        joined = self._identity.joined(self.url)
        if joined is None:
            logger.info("joining the hub at %s as %s", self.url, uuid)
            joined = await join(self.url, self.token, uuid, self._identity)
        host, _ = hub_address(self.url)
        context, name = _client_context(joined, self._identity)
        async with asyncio.timeout(CONNECT_WITHIN):
            reader, writer = await asyncio.open_connection(
                host, joined.machine_port, ssl=context, server_hostname=name
            )
        try:
            await self._converse(reader, writer, joined, facts)
        finally:
            writer.transport.abort()

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        joined: Joined,
        facts: pb.Facts,
    ) -> None:
        async def send(message: pb.MachineMessage) -> None:
            writer.write(encode(message))
            await writer.drain()

        secret = self._identity.secret()
        await send(pb.MachineMessage(hello=pb.Hello(secret=secret, facts=facts)))
        # answered once the hub has accepted the machine: the link counts as connected then
        await send(pb.MachineMessage(heartbeat=pb.Heartbeat()))
        liveness = Liveness(self._ping_interval, asyncio.get_running_loop().time())
        bridge = Bridge(self._api_address, send)
        chores = [
            asyncio.create_task(self._watch_facts(send, facts), name="hub facts"),
            asyncio.create_task(_ping(writer, liveness), name="hub pings"),
        ]
        try:
            while (message := await read_message(reader, pb.HubMessage)) is not None:
                liveness.heard_from(asyncio.get_running_loop().time())
                kind = message.WhichOneof("kind")
                if kind == "refused":
                    self._identity.forget()
                    raise HubJoinError(f"the hub refused the machine: {message.refused}")
                if not self.connected.is_set():
                    logger.info("connected to the hub at %s", joined.url)
                    self.connected.set()
                if kind == "frame":
                    bridge.handle(message.frame)
                elif kind == "heartbeat" and not message.heartbeat.answer:
                    writer.write(ANSWER)
            if chores[1].done():
                raise ConnectionError(
                    f"the hub did not answer a ping within {liveness.timeout:g} s"
                )
            raise ConnectionError("the hub closed the connection")
        finally:
            for task in chores:
                task.cancel()
            await asyncio.wait(chores)
            await bridge.close()

    async def _watch_facts(
        self, send: Callable[[pb.MachineMessage], Awaitable[None]], sent: pb.Facts
    ) -> None:
        while True:
            await asyncio.sleep(FACTS_CHECK)
            try:
                async with asyncio.timeout(FACTS_WITHIN):
                    _, now = await self._facts()
            except Exception:  # the node's own reads, mid-reboot: logged and tried again
                logger.warning(
                    "hub %s: cannot read the machine's facts now", self.url, exc_info=True
                )
                continue
            if now != sent:
                await send(pb.MachineMessage(facts=now))
                sent = now


async def _ping(writer: asyncio.StreamWriter, liveness: Liveness) -> None:
    """Ping a silent hub; cut the connection when a ping goes unanswered."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(liveness.tick)
        due = liveness.due(loop.time())
        if due is Due.PING:
            writer.write(PING)
        elif due is Due.SILENT:
            writer.transport.abort()
            return


def _client_context(joined: Joined, identity: HubIdentity) -> tuple[ssl.SSLContext, str]:
    """TLS that trusts only the hub's pinned certificate and presents the machine's; the
    name to check the hub's certificate for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=joined.server.decode("ascii"))
    context.load_cert_chain(identity.certificate_path, identity.key_path)
    return context, name_of(x509.load_pem_x509_certificate(joined.server))


def _describe(err: BaseException) -> str:
    if isinstance(err, grpc.aio.AioRpcError):
        return f"{err.details()} ({err.code().name})"
    if isinstance(err, TimeoutError):
        return f"no connection within {CONNECT_WITHIN:g} s"
    return str(err) or type(err).__name__
