"""The trust port of a control-plane node (50001, like the API's 50000 beside it).

It serves only the SecurityService (:mod:`~kiln.machined.api.security_service`), over TLS with
the node's API server certificate and without asking for a client certificate: the nodes that
call it have none yet. Each method there authorizes the call itself, by the machine token; the
access interceptor admits only the methods the permission table marks for the trust port.
"""

from __future__ import annotations

import logging

import grpc

from kiln.machined.api.auth import AccessInterceptor
from kiln.machined.api.identity import ServerIdentity
from kiln.machined.api.security_service import SecurityService
from kiln.machined.api.server import OPTIONS, STOP_GRACE, listen
from kiln.machinery.api import security_pb2_grpc

logger = logging.getLogger(__name__)


class TrustServer:
    """Serves ``service`` on ``address`` until stopped."""

    def __init__(self, address: str, identity: ServerIdentity, service: SecurityService) -> None:
        self.address = address
        self._server = grpc.aio.server(
            interceptors=[AccessInterceptor(maintenance=False, trust=True)], options=OPTIONS
        )
        security_pb2_grpc.add_SecurityServiceServicer_to_server(service, self._server)
        credentials = grpc.ssl_server_credentials(
            [(identity.key, identity.certificate)], require_client_auth=False
        )
        listen(self._server, address, credentials)

    async def start(self) -> None:
        await self._server.start()
        logger.info("trust API listening on %s (server TLS, machine token)", self.address)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        await self._server.stop(grace)
