"""Calls of a machine's own API through its connection to the hub.

The hub dials the machine's API through a tunnel socket (:mod:`~kiln.hub.links.tunnel`) with
the ordinary machine API client, over TLS end to end. A machine in maintenance mode serves a
self-signed certificate, which it reported with its facts; the hub trusts exactly that one.
A configured machine accepts only clients with a certificate from its cluster's OS CA, which
the hub does not hold yet (cluster templates will make it): calls to it are refused here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from kiln.hub.errors import MachineUnavailableError
from kiln.hub.links.registry import Links
from kiln.hub.links.tunnel import Tunnels
from kiln.machinery.client import Client, Dial, Target
from kiln.machinery.client.credentials import trusting

RELAY_TIMEOUT = 30.0


class MachineRelay:
    def __init__(self, links: Links, tunnels: Tunnels) -> None:
        self._links = links
        self._tunnels = tunnels

    @contextlib.asynccontextmanager
    async def client(self, uuid: str) -> AsyncIterator[Client]:
        link = self._links.get(uuid)
        pem = link.facts.api_certificate
        if not pem or not link.facts.maintenance:
            raise MachineUnavailableError(
                f"machine {uuid} is configured: its API accepts only its cluster's "
                "certificates, which this hub does not hold yet"
            )
        async with self._tunnels.dial(uuid) as address:
            target = Target(uuid, 0, None)
            dial = Dial(address, trusting(pem))
            async with Client(target, timeout=RELAY_TIMEOUT, dial=dial) as client:
                yield client
