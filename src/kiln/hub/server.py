"""The hub process: state, controllers, the API port, the machine port and the peer port.

On first start on a database it makes the hub CA and server certificate (:mod:`~kiln.hub.pki`)
and an initial admin API key, which it prints once (only its hash is kept), and writes
``DATA/client.yaml`` (address and pinned certificate, no key) for the admin's client.

Several processes may serve one database (replicas, :mod:`kiln.hub.replicas`): each serves the
API and holds the links of the machines that dial it; the one holding the leader lock runs the
controllers; a call to a machine whose link another replica holds goes through that replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from kiln.hub import pki
from kiln.hub.api.access import AccessInterceptor
from kiln.hub.api.cluster_access import ClusterAccessService
from kiln.hub.api.cluster_nodes import ClusterNodes
from kiln.hub.api.cluster_service import ClusterService
from kiln.hub.api.hub_service import HubService
from kiln.hub.api.inventory_view import InventoryView
from kiln.hub.api.machine_proxy import MachineProxy
from kiln.hub.api.relay import MAX_MESSAGE, MachineRelay
from kiln.hub.auth.audit import AuditLog
from kiln.hub.auth.join_tokens import JoinTokens
from kiln.hub.auth.keys import ApiKeys
from kiln.hub.clientconfig import FILE_NAME, ClientConfig, write_client_config
from kiln.hub.controllers import hub_controllers
from kiln.hub.errors import HubError
from kiln.hub.links.connect import MachinePort
from kiln.hub.links.join import JoinService
from kiln.hub.links.machines import Machines
from kiln.hub.links.registry import Links
from kiln.hub.links.tunnel import Tunnels
from kiln.hub.replicas.leader import leader_lock
from kiln.hub.replicas.leadership import Replica
from kiln.hub.replicas.peers import PeerChannels, PeerService
from kiln.hub.replicas.registry import ReplicaRecord, replica_id
from kiln.hub.replicas.routing import Routes
from kiln.hub.store import open_state
from kiln.machinery.api import hub_pb2_grpc, hubcluster_pb2_grpc, hublink_pb2_grpc
from kiln.machinery.hubjoin import certificate_pin, keepalive
from kiln.machinery.osimage.artifact_cache import ArtifactCache
from kiln.machinery.privatefile import ensure_private_dir
from kiln.resources import State

logger = logging.getLogger(__name__)

STOP_GRACE = 2.0
API_OPTIONS = (("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", MAX_MESSAGE))
PEER_OPTIONS = (("grpc.so_reuseport", 0),)


# The collector's young-generation threshold, raised from CPython's 700: with thousands of
# machine connections, every young collection finds objects of calls still in flight, promotes
# them, and the promotions set off full collections that scan every connection's objects
# (seconds per second at 10,000 machines). Objects of a call now mostly die young.
GC_THRESHOLDS = (50_000, 20, 10)


@dataclass(frozen=True)
class HubOptions:
    data_dir: Path
    listen: str
    machine_listen: str
    database: str
    url: str  # what join tokens tell machines to dial
    peer_listen: str  # HOST:PORT for other replicas (port 0: any free port)
    peer_address: str | None = None  # where other replicas reach it (default: peer_listen's)
    machine_keepalive: float = keepalive.INTERVAL  # seconds of silence before a ping


class HubServer:
    def __init__(self, options: HubOptions) -> None:
        self.options = options
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self, announce: Callable[[str], None]) -> None:
        options = self.options
        if options.peer_address == _dialable(options.machine_listen):
            raise HubError(
                f"--peer-address {options.peer_address} is the machine port: replicas reach "
                "each other on the peer port (--peer-listen)"
            )
        ensure_private_dir(options.data_dir)
        state = await open_state(options.database)
        try:
            await self._serve(state, announce)
        finally:
            await state.close()

    async def _serve(self, state: State, announce: Callable[[str], None]) -> None:
        options = self.options
        hub_pki = await pki.load_or_create(options.data_dir, state)
        server_pem = hub_pki.server_certificate.pem
        keys, audit, machines = ApiKeys(state), AuditLog(state), Machines(state)
        tokens = JoinTokens(state, certificate_pin(server_pem))
        links = Links()
        identity = [(hub_pki.server_key.pem, server_pem)]
        peer_server = grpc.aio.server(options=PEER_OPTIONS)
        hublink_pb2_grpc.add_HubPeerServiceServicer_to_server(PeerService(links), peer_server)
        peer_credentials = grpc.ssl_server_credentials(
            identity, root_certificates=hub_pki.ca.certificate.pem, require_client_auth=True
        )
        peer_port = _listen(peer_server, options.peer_listen, peer_credentials)
        peer_host, _, _ = options.peer_listen.rpartition(":")
        record = ReplicaRecord(
            state,
            replica_id(options.data_dir),
            _dialable(options.listen),
            options.peer_address or _dialable(f"{peer_host}:{peer_port}"),
        )
        await machines.release(lambda replica: replica in (record.id, ""))
        initial = await keys.ensure_initial_admin()
        peers = PeerChannels(hub_pki.ca, server_pem, record.id)
        routes = Routes(state, links, record.id, peers)
        inventory = InventoryView(state)
        relay = MachineRelay(state, Tunnels(options.data_dir / "run", routes.endpoint))
        clusters = ClusterService(state)

        api = grpc.aio.server(interceptors=[AccessInterceptor(keys, audit)], options=API_OPTIONS)
        hub_pb2_grpc.add_HubServiceServicer_to_server(
            HubService(state, keys, tokens, audit, machines, links, relay, inventory, options.url),
            api,
        )
        hubcluster_pb2_grpc.add_ClusterServiceServicer_to_server(clusters, api)
        cluster_nodes = ClusterNodes(state)
        hubcluster_pb2_grpc.add_ClusterAccessServiceServicer_to_server(
            ClusterAccessService(state, cluster_nodes), api
        )
        api.add_generic_rpc_handlers((MachineProxy(cluster_nodes, relay),))
        machine_port = _port(options.machine_listen)
        hublink_pb2_grpc.add_HubJoinServiceServicer_to_server(
            JoinService(tokens, machines, hub_pki.ca, machine_port), api
        )
        _listen(api, options.listen, grpc.ssl_server_credentials(identity))
        machine_links = MachinePort(machines, links, record.id, options.machine_keepalive)
        await machine_links.start(options.machine_listen, identity[0], hub_pki.ca.certificate.pem)
        write_client_config(
            options.data_dir / FILE_NAME,
            ClientConfig(hub=_dialable(options.listen), ca=server_pem.decode()),
        )
        images = ArtifactCache(options.data_dir / "images")
        replica = Replica(
            state,
            record,
            leader_lock(options.database),
            links,
            lambda: hub_controllers(relay.client, images),
        )
        replica_task = asyncio.create_task(replica.run(), name="replica")
        view_task = asyncio.create_task(inventory.run(), name="inventory view")
        reaper_task = asyncio.create_task(clusters.run(), name="deleted clusters")
        await api.start()
        await peer_server.start()
        if initial is not None:
            announce(f"initial admin API key (shown once, only its hash is kept): {initial}")
        announce(
            f"hub replica {record.id} serving its API on {options.listen} and machines on "
            f"{options.machine_listen} (peers on {peer_host}:{peer_port}); client config "
            f"{options.data_dir / FILE_NAME}"
        )
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({stopping, replica_task}, return_when=asyncio.FIRST_COMPLETED)
        logger.info("stopping")
        await machine_links.close()
        await peer_server.stop(STOP_GRACE)
        await api.stop(STOP_GRACE)
        for task in (replica_task, view_task, reaper_task, stopping):
            task.cancel()
        await asyncio.wait({replica_task, view_task, reaper_task, stopping})
        await peers.close()
        if not replica_task.cancelled() and replica_task.exception() is not None:
            raise replica_task.exception()  # type: ignore[misc]


def _port(address: str) -> int:
    _, _, port = address.rpartition(":")
    if not port.isdigit():
        raise HubError(f"{address!r}: expected HOST:PORT")
    return int(port)


def _dialable(address: str) -> str:
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", ""):
        return f"127.0.0.1:{port}"
    return address


def _listen(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials) -> int:
    """Bind ``server`` to ``address``; the port bound."""
    _port(address)
    try:
        port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise HubError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise HubError(f"cannot listen on {address}: the address is in use or invalid")
    return port
