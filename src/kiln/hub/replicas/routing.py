"""Where this replica reaches a machine's API: through the machine's link if this replica
holds it, else through the replica that does (as the Machine resource records it)."""

from __future__ import annotations

from kiln.hub.errors import MachineUnavailableError
from kiln.hub.links.machines import Machines
from kiln.hub.links.registry import Links
from kiln.hub.links.tunnel import Endpoint
from kiln.hub.replicas.peers import PeerChannels
from kiln.hub.replicas.registry import live_replica
from kiln.resources import State


class Routes:
    def __init__(self, state: State, links: Links, replica: str, peers: PeerChannels) -> None:
        self._state = state
        self._machines = Machines(state)
        self._links = links
        self._replica = replica
        self._peers = peers

    async def endpoint(self, uuid: str) -> Endpoint:
        link = self._links.find(uuid)
        if link is not None:
            return link
        machine = await self._machines.find(uuid)
        holder = "" if machine is None or not machine.spec.connected else machine.spec.replica
        if not holder or holder == self._replica:
            raise MachineUnavailableError(f"machine {uuid} is not connected to the hub")
        replica = await live_replica(self._state, holder)
        if replica is None:
            raise MachineUnavailableError(
                f"machine {uuid} was connected to hub replica {holder}, which is gone"
            )
        return self._peers.endpoint(replica.peer_address, uuid)
