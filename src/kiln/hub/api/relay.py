"""Calls of a machine's own API through its connection to the hub.

The hub dials the machine's API through a tunnel socket (:mod:`~kiln.hub.links.tunnel`) with
the ordinary machine API client, over TLS end to end. A machine in maintenance mode serves a
self-signed certificate, which it reported with its facts; the hub trusts exactly that one.
A configured machine accepts only clients with a certificate from its cluster's OS CA: the
hub calls it with the MachineCredentials an admin gave it (cluster templates will make them),
and refuses the call here when it has none.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from kiln.hub.errors import MachineUnavailableError
from kiln.hub.links.tunnel import Tunnels
from kiln.hub.resources import MachineCredentialsSpec, MachineSpec
from kiln.machinery.client import Client, Dial, MutualTLS, Target, credentials
from kiln.machinery.pinning import ChannelSecurity, trusting
from kiln.resources import NotFoundError, Pointer, State, cast_spec

RELAY_TIMEOUT = 30.0


class MachineRelay:
    def __init__(self, state: State, tunnels: Tunnels) -> None:
        self._state = state
        self._tunnels = tunnels

    @contextlib.asynccontextmanager
    async def client(self, uuid: str) -> AsyncIterator[Client]:
        security = await self._security(uuid)
        async with self._tunnels.dial(uuid) as address:
            target = Target(uuid, 0, None)
            dial = Dial(address, security)
            async with Client(target, timeout=RELAY_TIMEOUT, dial=dial) as client:
                yield client

    async def _security(self, uuid: str) -> ChannelSecurity:
        try:
            machine = cast_spec(await self._state.get(Pointer.of(MachineSpec, uuid)), MachineSpec)
        except NotFoundError:
            raise MachineUnavailableError(f"no machine {uuid!r} has joined this hub") from None
        facts = machine.spec.facts
        if facts.maintenance and facts.api_certificate:
            return trusting(facts.api_certificate.encode())
        try:
            found = await self._state.get(Pointer.of(MachineCredentialsSpec, uuid))
        except NotFoundError:
            raise MachineUnavailableError(
                f"machine {uuid} is configured: its API accepts only its cluster's "
                "certificates; give the hub one with kiln-hub machine credentials"
            ) from None
        spec = cast_spec(found, MachineCredentialsSpec).spec
        tls = MutualTLS(spec.ca.encode(), spec.crt.encode(), spec.key.encode())
        secured = credentials.mutual(tls)
        # A unix socket has no host name: the machine's API certificate names localhost.
        return ChannelSecurity(
            secured.credentials, (("grpc.ssl_target_name_override", "localhost"),)
        )
