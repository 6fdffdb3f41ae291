"""The node's gRPC API server for one boot: maintenance mode (self-signed, anyone may call the
few methods it serves) or configured (mutual TLS with the cluster's OS CA). Calls naming other
nodes are forwarded to them (:mod:`~kiln.machined.api.forward`) where the policy allows."""

from __future__ import annotations

import asyncio
import logging

import grpc

from kiln.machined.api.auth import AccessInterceptor
from kiln.machined.api.control import NodeControl
from kiln.machined.api.forward import ForwardInterceptor, ForwardPolicy
from kiln.machined.api.identity import ServerIdentity
from kiln.machined.api.machine_service import MachineService
from kiln.machined.api.resource_service import ResourceService
from kiln.machined.errors import MachinedError
from kiln.machinery.api import machine_pb2_grpc, resource_pb2_grpc

logger = logging.getLogger(__name__)

STOP_GRACE = 2.0  # seconds in-flight calls get to finish when the server stops
OPTIONS = (
    ("grpc.so_reuseport", 0),  # a second node on the same address must fail, not share it
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


class ApiServer:
    """Serves the machine and resource APIs of ``node`` on ``address`` until stopped."""

    def __init__(
        self,
        node: NodeControl,
        address: str,
        identity: ServerIdentity,
        forwarding: ForwardPolicy,
        *,
        booted: asyncio.Event | None = None,
    ) -> None:
        self.address = address
        self.identity = identity
        self.maintenance = identity.client_ca is None
        self._forward = ForwardInterceptor(forwarding, booted)
        access = AccessInterceptor(maintenance=self.maintenance, booted=booted)
        self._server = grpc.aio.server(interceptors=[access, self._forward], options=OPTIONS)
        machine_pb2_grpc.add_MachineServiceServicer_to_server(MachineService(node), self._server)
        resource_pb2_grpc.add_ResourceServiceServicer_to_server(ResourceService(node), self._server)
        credentials = grpc.ssl_server_credentials(
            [(identity.key, identity.certificate)],
            root_certificates=identity.client_ca,
            require_client_auth=identity.client_ca is not None,
        )
        listen(self._server, address, credentials)

    async def start(self) -> None:
        await self._server.start()
        mode = "maintenance mode, no client certificates" if self.maintenance else "mutual TLS"
        logger.info("API listening on %s (%s)", self.address, mode)

    def forward_with(self, forwarding: ForwardPolicy) -> None:
        """Forward calls by ``forwarding`` from now on (a boot taking over an early server)."""
        self._forward.policy = forwarding

    async def stop(self, grace: float = STOP_GRACE) -> None:
        await self._server.stop(grace)
        await self._forward.close()


def listen(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials) -> None:
    """Add a TLS port; MachinedError if the address is taken or invalid."""
    try:
        port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise MachinedError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise MachinedError(f"cannot listen on {address}: the address is in use or invalid")
