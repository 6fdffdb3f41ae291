"""The machine's one connection to the hub, kept up for as long as the machine runs.

Join once (when nothing from an earlier join to this URL is kept), then Connect on the hub's
machine port with the issued certificate: Hello (secret and facts), then new facts when they
change, and tunnel frames. The transport pings the hub (:mod:`kiln.machinery.hubjoin.keepalive`).
Whenever the connection ends (the hub restarted, the network cut, a ping not answered) the
link connects again after a jittered, capped exponential backoff.
A hub that refuses the machine's certificate makes it join again; a refused join is retried
at the longest backoff (the token may be fixed, the revocation lifted).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from kiln.machined.hublink.bridge import Bridge
from kiln.machined.hublink.identity import HubIdentity, Joined
from kiln.machined.hublink.join import HubJoinError, hub_address, join
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.api import hublink_pb2_grpc
from kiln.machinery.hubjoin import keepalive, parse_join_token
from kiln.machinery.pinning import trusting

logger = logging.getLogger(__name__)

FACTS_CHECK = 5.0
FACTS_WITHIN = 60.0  # a read of the facts that takes longer is given up, and tried again
FIRST_BACKOFF = 0.5

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
            except (grpc.aio.AioRpcError, OSError) as err:
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
        key = self._identity.key().pem
        security = trusting(joined.server, (key, joined.certificate))
        async with grpc.aio.secure_channel(
            f"{host}:{joined.machine_port}",
            security.credentials,
            options=[
                *security.options,
                *keepalive.machine_options(self._ping_interval),
                ("grpc.use_local_subchannel_pool", 1),
            ],
        ) as channel:
            stream = hublink_pb2_grpc.HubLinkServiceStub(channel).Connect()
            try:
                await self._converse(stream, joined, facts)
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.UNAUTHENTICATED:
                    self._identity.forget()
                    raise HubJoinError(f"the hub refused the machine: {err.details()}") from None
                raise
            finally:
                stream.cancel()

    async def _converse(self, stream: object, joined: Joined, facts: pb.Facts) -> None:
        call: grpc.aio.StreamStreamCall[pb.MachineMessage, pb.HubMessage] = stream  # type: ignore[assignment]
        lock = asyncio.Lock()

        async def locked_write(message: pb.MachineMessage) -> None:
            async with lock:  # one write at a time on a stream
                await call.write(message)

        async def send(message: pb.MachineMessage) -> None:
            # Shielded: gRPC cancels the whole stream when one of its writes is cancelled.
            await asyncio.shield(locked_write(message))

        secret = self._identity.secret()
        await send(pb.MachineMessage(hello=pb.Hello(secret=secret, facts=facts)))
        # answered once the hub has accepted the machine: the link counts as connected then
        await send(pb.MachineMessage(heartbeat=pb.Heartbeat()))
        bridge = Bridge(self._api_address, send)
        chores = [asyncio.create_task(self._watch_facts(send, facts), name="hub facts")]
        try:
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    await call.wait_for_connection()
                    code = await call.code()
                    details = await call.details()
                    if code is grpc.StatusCode.UNAUTHENTICATED:
                        self._identity.forget()
                        raise HubJoinError(f"the hub refused the machine: {details}")
                    raise ConnectionError(f"the hub ended the connection: {details or code}")
                if not self.connected.is_set():
                    logger.info("connected to the hub at %s", joined.url)
                    self.connected.set()
                if isinstance(message, pb.HubMessage) and message.HasField("frame"):
                    bridge.handle(message.frame)
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


def _describe(err: BaseException) -> str:
    if isinstance(err, grpc.aio.AioRpcError):
        return f"{err.details()} ({err.code().name})"
    return str(err)
