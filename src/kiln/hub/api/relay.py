"""Calls of a machine's own API through its connection to the hub.

The hub dials the machine's API through a tunnel socket (:mod:`~kiln.hub.links.tunnel`) with
the ordinary machine API client, over TLS end to end. A machine in maintenance mode serves a
self-signed certificate, which it reported with its facts; the hub trusts exactly that one.
A configured machine accepts only clients with a certificate from its cluster's OS CA: the
hub calls it with the MachineCredentials an admin gave it, else, for a machine of a cluster
the hub made from a template, with the admin certificate of that cluster's ClusterSecrets;
it refuses the call here when it has neither. A call relayed for a user whose role is not
admin goes with a certificate of that role from the cluster's OS CA
(:mod:`~kiln.hub.api.role_certificates`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc

from kiln.hub.api.role_certificates import RoleCertificates
from kiln.hub.errors import MachineUnavailableError, NotReadyError
from kiln.hub.links.tunnel import Tunnels
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterSecretsSpec,
    MachineCredentialsSpec,
    MachineSpec,
)
from kiln.machinery.client import Client, Dial, MutualTLS, Target, credentials
from kiln.machinery.errors import SecretsError
from kiln.machinery.pinning import ChannelSecurity, trusting
from kiln.machinery.roles import Role
from kiln.resources import NotFoundError, Pointer, State, cast_spec

RELAY_TIMEOUT = 30.0
MAX_MESSAGE = 17 * 1024 * 1024  # a node takes up to 16 MiB (an etcd snapshot to recover from)
CHANNEL_OPTIONS = (
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
)


class MachineRelay:
    def __init__(self, state: State, tunnels: Tunnels) -> None:
        self._state = state
        self._tunnels = tunnels
        self._roles = RoleCertificates()

    @contextlib.asynccontextmanager
    async def channel(self, uuid: str, role: Role) -> AsyncIterator[grpc.aio.Channel]:
        """A channel to the machine's API for raw calls (:mod:`~kiln.hub.api.machine_proxy`)
        as a client of ``role``."""
        security = await self._security(uuid, role)
        async with self._tunnels.dial(uuid) as address:
            options = [*security.options, *CHANNEL_OPTIONS]
            channel = grpc.aio.secure_channel(address, security.credentials, options=options)
            try:
                yield channel
            finally:
                await channel.close()

    @contextlib.asynccontextmanager
    async def client(self, uuid: str) -> AsyncIterator[Client]:
        security = await self._security(uuid)
        async with self._tunnels.dial(uuid) as address:
            target = Target(uuid, 0, None)
            dial = Dial(address, security)
            async with Client(target, timeout=RELAY_TIMEOUT, dial=dial) as client:
                yield client

    async def _security(self, uuid: str, role: Role = Role.ADMIN) -> ChannelSecurity:
        # The facts as the Machine resource holds them: the link may be another replica's.
        try:
            machine = cast_spec(await self._state.get(Pointer.of(MachineSpec, uuid)), MachineSpec)
        except NotFoundError:
            raise MachineUnavailableError(f"no machine {uuid!r} has joined this hub") from None
        facts = machine.spec.facts
        if facts.maintenance and facts.api_certificate:
            return trusting(facts.api_certificate.encode())
        tls = await self._tls(uuid) if role is Role.ADMIN else await self._of_role(uuid, role)
        secured = credentials.mutual(tls)
        # A unix socket has no host name: check the certificate for the machine's own address
        # (its first; a control plane's also names localhost, a worker's does not).
        name = facts.addresses[0] if facts.addresses else "localhost"
        return ChannelSecurity(secured.credentials, (("grpc.ssl_target_name_override", name),))

    async def _tls(self, uuid: str) -> MutualTLS:
        spec = await self._credentials(uuid)
        if spec is None:
            raise MachineUnavailableError(
                f"machine {uuid} is configured: its API accepts only its cluster's "
                "certificates; give the hub one with kiln-hub machine credentials"
            )
        return MutualTLS(spec.ca.encode(), spec.crt.encode(), spec.key.encode())

    async def _credentials(self, uuid: str) -> MachineCredentialsSpec | ClusterSecretsSpec | None:
        try:
            found = await self._state.get(Pointer.of(MachineCredentialsSpec, uuid))
            return cast_spec(found, MachineCredentialsSpec).spec
        except NotFoundError:
            pass
        try:
            allocated = await self._state.get(Pointer.of(ClusterMachineSpec, uuid))
            cluster = cast_spec(allocated, ClusterMachineSpec).spec.cluster
            secrets = await self._state.get(Pointer.of(ClusterSecretsSpec, cluster))
        except NotFoundError:
            return None
        return cast_spec(secrets, ClusterSecretsSpec).spec

    async def _of_role(self, uuid: str, role: Role) -> MutualTLS:
        try:
            allocated = await self._state.get(Pointer.of(ClusterMachineSpec, uuid))
            cluster = cast_spec(allocated, ClusterMachineSpec).spec.cluster
            found = await self._state.get(Pointer.of(ClusterSecretsSpec, cluster))
        except NotFoundError:
            raise MachineUnavailableError(
                f"machine {uuid} is in no cluster the hub made: it has no {role.value} "
                "certificate for it"
            ) from None
        try:
            return self._roles.for_role(cluster, cast_spec(found, ClusterSecretsSpec).spec, role)
        except SecretsError as exc:
            raise NotReadyError(f"cluster {cluster}: cannot issue a certificate: {exc}") from None
