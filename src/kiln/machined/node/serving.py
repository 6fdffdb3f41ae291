"""The API servers of one boot, by what the node is.

- In maintenance mode: the machine API with the self-signed maintenance identity. It does not
  forward calls to other nodes.
- A control-plane node (its config holds the OS CA key): the machine API with a certificate it
  issues itself; it forwards calls with an ``os:impersonator`` certificate it issues itself too;
  and the trust port, where workers get their API certificates for the machine token
  (:mod:`~kiln.machined.api.trust`).
- A worker: the machine API with the certificate a control-plane node signed for it
  (:mod:`~kiln.machined.node.certify`). It does not forward: it holds no key to vouch for
  itself with, and the machine token must never amount to a role.
"""

from __future__ import annotations

from kiln.machined.api.control import NodeControl
from kiln.machined.api.forward import ForwardPolicy, OwnAddresses
from kiln.machined.api.identity import ServerIdentity, maintenance_identity
from kiln.machined.api.relay import Relay
from kiln.machined.api.security_service import SecurityService
from kiln.machined.api.server import ApiServer
from kiln.machined.api.tls import (
    LOOPBACK_NAMES,
    configured_identity,
    impersonator_identity,
    os_authority,
)
from kiln.machined.api.trust import TrustServer
from kiln.machined.early import EarlyApi
from kiln.machined.node.env import NodeEnv
from kiln.machinery.config import MachineConfig

MAINTENANCE_REFUSAL = (
    "the node is in maintenance mode: it does not forward calls to other nodes; "
    "call each node itself"
)
WORKER_REFUSAL = "only control-plane nodes forward calls to other nodes: use one as the endpoint"


def issues_own_certificate(config: MachineConfig) -> bool:
    """Whether the config holds the OS CA key (a control-plane node's)."""
    return config.machine_config.machine.ca.key is not None


class BootServers:
    """Starts the servers that fit the node and stops them (see the module docstring)."""

    def __init__(self, node: NodeControl, env: NodeEnv, early: EarlyApi | None = None) -> None:
        self._node = node
        self._env = env
        self._early = early  # the server started before the node loaded, if any
        self._api: ApiServer | None = None
        self._trust: TrustServer | None = None

    def names(self) -> list[str]:
        """The node's addresses and names, for its API certificate."""
        options = self._env.options
        names = [*self._env.host.addresses(), self._env.host.hostname()]
        if options.api_host_is_specific:
            names.append(options.api_host)
        return names

    def own(self) -> OwnAddresses:
        """Where this node's API answers: the nodes a call may name for this one."""
        options = self._env.options
        if options.api_host_is_specific:
            hosts = {options.api_host}
        else:
            hosts = {*LOOPBACK_NAMES, *self.names()}
        return OwnAddresses(options.api_port, frozenset(host.lower() for host in hosts))

    async def start_maintenance(self) -> None:
        identity = maintenance_identity(self._env.options.state_dir)
        await self._start_api(identity, ForwardPolicy(self.own(), None, MAINTENANCE_REFUSAL))

    async def start_controlplane(self, config: MachineConfig) -> None:
        options = self._env.options
        identity = configured_identity(config, self.names(), options.state_dir, self._node.name)
        relay = Relay(impersonator_identity(config, self._node.name))
        await self._start_api(identity, ForwardPolicy(self.own(), relay))
        service = SecurityService(os_authority(config), config.machine_config.machine.token)
        self._trust = TrustServer(self._env.options.trust_address, identity, service)
        await self._trust.start()

    async def start_worker(self, identity: ServerIdentity) -> None:
        await self._start_api(identity, ForwardPolicy(self.own(), None, WORKER_REFUSAL))

    async def stop(self) -> None:
        """Stop every server started (in-flight calls get a short grace)."""
        if self._trust is not None:
            await self._trust.stop()
        if self._api is not None:
            await self._api.stop()
        await self._drop_early()

    async def _start_api(self, identity: ServerIdentity, forwarding: ForwardPolicy) -> None:
        if self._early is not None:
            self._api = self._early.adopt(self._node, identity, forwarding)
            if self._api is not None:
                self._early = None
                return
            await self._drop_early()
        self._api = ApiServer(self._node, self._env.options.api_address, identity, forwarding)
        await self._api.start()

    async def _drop_early(self) -> None:
        early, self._early = self._early, None
        if early is not None:
            await early.stop()
