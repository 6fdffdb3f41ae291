"""The machines of a cluster the hub made, as calls through the hub name them.

A kilnconfig from ``kiln-hub kilnconfig`` names a cluster and, in the ``nodes`` metadata, the
machines a call is for: by address (``127.0.0.2`` or ``127.0.0.2:50000``), hostname or UUID.
Only machines of that cluster are found; none named means its first control plane (the one
etcd was bootstrapped on, whose address is the cluster's endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from kiln.hub.errors import InvalidRequestError, NotFoundError, NotReadyError
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterMachineStatusSpec,
    ClusterSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.cluster_machine import CLUSTER_LABEL
from kiln.machinery.config.model import MachineType
from kiln.machinery.endpoints import API_PORT, split_endpoint
from kiln.resources import Kind, Phase, Pointer, State, cast_spec
from kiln.resources import NotFoundError as ResourceNotFound

_S = TypeVar("_S", bound=BaseModel)


@dataclass(frozen=True)
class ClusterNode:
    """One machine of a cluster."""

    uuid: str
    address: str  # the address its config and certificates use
    hostname: str
    machine_type: MachineType
    bootstrap: bool  # etcd was bootstrapped here; its address is the endpoint

    def answers_to(self, label: str) -> bool:
        if label == self.uuid:
            return True
        try:  # the port does not matter: the hub reaches the machine through its connection
            host, _ = split_endpoint(label, API_PORT)
        except ValueError:
            return False
        return host.lower() in (self.address, self.hostname.lower())

    def __str__(self) -> str:
        return f"{self.hostname or self.address} ({self.address}, {self.uuid})"


@dataclass(frozen=True)
class ClusterView:
    """A bootstrapped cluster's machines and its Kubernetes API URL."""

    name: str
    endpoint: str
    nodes: tuple[ClusterNode, ...]

    def pick(self, named: Sequence[str]) -> list[tuple[str, ClusterNode]]:
        """The machines ``named`` (each with its label), or the first control plane;
        NotFoundError naming this cluster's machines for a label that is none of them."""
        if not named:
            planes = [n for n in self.nodes if n.machine_type is MachineType.CONTROLPLANE]
            if not planes:
                raise NotReadyError(f"cluster {self.name} has no control plane at the moment")
            return [("", min(planes, key=lambda n: (not n.bootstrap, n.address)))]
        picked: list[tuple[str, ClusterNode]] = []
        for label in dict.fromkeys(named):
            found = next((n for n in self.nodes if n.answers_to(label)), None)
            if found is None:
                known = ", ".join(str(n) for n in self.nodes)
                raise NotFoundError(
                    f"{label}: not a machine of cluster {self.name} (its machines: {known})"
                )
            picked.append((label, found))
        return picked


class ClusterNodes:
    """Finds a cluster's machines in the hub's state."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def view(self, name: str) -> ClusterView:
        """The cluster called ``name``; NotFoundError if there is none, NotReadyError until
        etcd was bootstrapped on it."""
        if not name:
            raise InvalidRequestError(
                "the call names no cluster: use a kilnconfig from kiln-hub kilnconfig CLUSTER"
            )
        try:
            cluster = await self._state.get(Pointer.of(ClusterSpec, name))
        except ResourceNotFound:
            raise NotFoundError(
                f"no cluster {name!r} on this hub (kiln-hub template list shows them)"
            ) from None
        if cluster.metadata.phase is Phase.TEARING_DOWN:
            raise NotReadyError(f"cluster {name} is being deleted")
        allocated = [
            cm
            for cm in await self._state.list(Kind.of(ClusterMachineSpec), f"{CLUSTER_LABEL}={name}")
            if cm.spec.cluster == name and cm.metadata.phase is not Phase.TEARING_DOWN
        ]
        steps = [await self._spec(ClusterMachineStatusSpec, cm.id) for cm in allocated]
        if not any(step is not None and step.bootstrapped for step in steps):
            raise NotReadyError(
                f"cluster {name} is not bootstrapped yet (kiln-hub template status {name} "
                "--wait waits until it is healthy)"
            )
        nodes = []
        for cm in sorted(allocated, key=lambda cm: cm.spec.address):
            status = await self._spec(MachineStatusSpec, cm.id)
            nodes.append(
                ClusterNode(
                    uuid=cm.id,
                    address=cm.spec.address,
                    hostname=status.hostname if status is not None else "",
                    machine_type=cm.spec.machine_type,
                    bootstrap=cm.spec.bootstrap,
                )
            )
        endpoint = next((cm.spec.endpoint for cm in allocated if cm.spec.endpoint), "")
        return ClusterView(name, endpoint, tuple(nodes))

    async def _spec(self, kind: type[_S], resource_id: str) -> _S | None:
        try:
            return cast_spec(await self._state.get(Pointer.of(kind, resource_id)), kind).spec
        except ResourceNotFound:
            return None
