"""The API, served before the node has loaded.

Loading the node (the config schema, the resource runtime, etcd, cryptography) takes several
times longer than starting a gRPC server. So the daemon first starts its API server with the
identity it served with last time, and only then loads the rest:

- no config stored: the maintenance identity (``<state>/maintenance``; made here on the
  node's first start);
- a config stored: the identity the last configured boot kept (``<state>/api``, see
  :mod:`~kiln.machined.api.identity`; only control-plane nodes keep one);
- a staged config waiting, or nothing kept: no early server; the boot starts its own.

Until the boot takes it over, the server answers ``Version`` (the node's name, versions and
whether it is in maintenance mode) and makes every other call wait (:data:`~.auth.BOOT_WAIT`).
The boot takes it over when it would serve with the same identity; otherwise it stops it and
starts its own. Nothing here imports more than grpc and the generated API code.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kiln.machined.api.control import NodeControl
from kiln.machined.api.forward import ForwardPolicy, OwnAddresses
from kiln.machined.api.identity import ServerIdentity, load_kept, maintenance_identity
from kiln.machined.api.server import ApiServer
from kiln.machined.errors import NodeStateError
from kiln.machined.statefiles import CONFIG_FILE, STAGED_FILE

if TYPE_CHECKING:
    from kiln.machined.platform.host import Versions

logger = logging.getLogger(__name__)

BOOTING = "the node is still booting"


def early_identity(
    state_dir: Path, config_dir: Path | None = None
) -> tuple[ServerIdentity, str | None] | None:
    """The identity to serve with before the boot, and the node's name in its last configured
    boot (None in maintenance mode); None when the boot must decide."""
    configs = config_dir or state_dir
    if (configs / STAGED_FILE).exists():
        return None
    if (configs / CONFIG_FILE).exists():
        kept = load_kept(state_dir)
        return None if kept is None else (kept.identity, kept.inputs.node_name)
    return maintenance_identity(state_dir), None


class PendingNode:
    """Stands for the node until its boot is bound: its name, its versions and whether it is
    in maintenance mode; anything else is refused (calls wait in the access interceptor)."""

    def __init__(self, name: str, *, maintenance: bool) -> None:
        self._name = name
        self._maintenance = maintenance
        self._node: NodeControl | None = None
        self.booted = asyncio.Event()

    def bind(self, node: NodeControl) -> None:
        self._node = node
        self.booted.set()

    @property
    def name(self) -> str:
        return self._name if self._node is None else self._node.name

    @property
    def maintenance(self) -> bool:
        return self._maintenance if self._node is None else self._node.maintenance

    def versions(self) -> Versions:
        from kiln.machined.platform import host

        return host.versions()

    def __getattr__(self, attribute: str) -> Any:
        if self._node is None:
            raise NodeStateError(BOOTING)
        return getattr(self._node, attribute)


class EarlyApi:
    """The API server started before the node loaded (see the module docstring)."""

    def __init__(self, address: str, identity: ServerIdentity, name: str) -> None:
        self.pending = PendingNode(name, maintenance=identity.client_ca is None)
        waiting = ForwardPolicy(OwnAddresses(0, frozenset()), None, BOOTING)
        self.server = ApiServer(
            cast(NodeControl, self.pending),
            address,
            identity,
            waiting,
            booted=self.pending.booted,
        )

    @classmethod
    async def start(
        cls, state_dir: Path, address: str, default_name: str, config_dir: Path | None = None
    ) -> EarlyApi | None:
        """An early server for ``state_dir`` listening on ``address``, or None when the boot
        must choose the identity. MachinedError if the address cannot be bound."""
        found = early_identity(state_dir, config_dir)
        if found is None:
            return None
        identity, name = found
        early = cls(address, identity, name or default_name)
        await early.server.start()
        return early

    def adopt(
        self, node: NodeControl, identity: ServerIdentity, forwarding: ForwardPolicy
    ) -> ApiServer | None:
        """The server, now serving ``node``, if it serves with ``identity``; else None (stop
        it and start another)."""
        if identity != self.server.identity:
            return None
        self.server.forward_with(forwarding)
        self.pending.bind(node)
        logger.info("the boot took over the API server started early")
        return self.server

    async def stop(self) -> None:
        await self.server.stop()
