"""Health checks of one node over its API: reachable, the machine type it should have, ready,
and every service running.

Every check reaches nodes through a :data:`Reach`: a kilnconfig context (each node dialled at
its address), or a function that opens a client of a node by name (the hub: through the
machine's connection to it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from kiln.machinery import client
from kiln.machinery.kilnconfig import Context
from kiln.machinery.kubernetes.services import KUBERNETES_SERVICES
from kiln.machinery.resources import MachineConfigSpec, MachineStatusSpec

CALL_TIMEOUT = 5.0
GOOD_SERVICE_STATES = frozenset({"running", "finished"})

Dialer = Callable[[str], AbstractAsyncContextManager[client.Client]]
Reach = Context | Dialer


@dataclass(frozen=True)
class Check:
    """The outcome of one check: on a node (``node``), or of the cluster (``node`` = "")."""

    name: str
    node: str
    ok: bool
    reason: str

    def __str__(self) -> str:
        where = f"{self.node}: " if self.node else ""
        return f"{where}{self.name}: {self.reason}"


def connect(context: Reach, node: str) -> AbstractAsyncContextManager[client.Client]:
    """A client of ``node`` as the context's user: its own endpoint when it is one of the
    context's endpoints (or the context names none), else through the context's endpoints,
    which forward to it (a node on a network only the control planes reach, such as a VM
    cluster's); through the hub a context through a hub names. A dial function instead of a
    context reaches nodes its own way (the hub itself)."""
    if not isinstance(context, Context):
        return context(node)
    if context.hub is not None:  # the hub relays to the cluster's machines by name
        return client.Client(client.resolve(context, nodes=[node]), timeout=CALL_TIMEOUT)
    direct = node in context.endpoints or not context.endpoints
    target = client.resolve(
        context, endpoints=[node] if direct else list(context.endpoints), nodes=[node]
    )
    return client.Client(target, timeout=CALL_TIMEOUT)


async def node_checks(context: Reach, node: str, role: str) -> list[Check]:
    """Checks of one node whose machine type should be ``role``; a node that does not answer
    gets only the failed ``reachable`` check."""
    try:
        async with connect(context, node) as api:
            versions = await api.version()
            if any(version.maintenance for version in versions):
                return [Check("reachable", node, False, "the node is in maintenance mode")]
            checks = [Check("reachable", node, True, f"Kiln {versions[0].version.tag}")]
            checks.append(await _machine_type(api, node, role))
            checks.append(await _ready(api, node))
            checks.append(await _services(api, node))
    except client.ClientError as err:
        reason = err.message
        handshake = "handshake" in reason.lower() and isinstance(context, Context)
        if handshake and await _in_maintenance(node):
            reason = "in maintenance mode: no machine config was applied"
        return [Check("reachable", node, False, reason)]
    return checks


async def _in_maintenance(node: str) -> bool:
    """Whether ``node`` serves the maintenance API (which a cluster's client cannot use)."""
    target = client.resolve(None, endpoints=[node], nodes=[node], insecure=True)
    try:
        async with client.Client(target, timeout=CALL_TIMEOUT) as api:
            return any(version.maintenance for version in await api.version())
    except client.ClientError:
        return False


async def _machine_type(api: client.Client, node: str, role: str) -> Check:
    (found,) = await api.get("machineconfig")
    spec = found.resource.spec
    assert isinstance(spec, MachineConfigSpec)
    machine = spec.documents[0].get("machine") if spec.documents else None
    actual = str(machine.get("type", "")) if isinstance(machine, dict) else ""
    if actual != role:
        return Check("machine type", node, False, f"{actual}, expected {role}")
    return Check("machine type", node, True, actual)


async def _ready(api: client.Client, node: str) -> Check:
    (found,) = await api.get("machinestatus")
    status = found.resource.spec
    assert isinstance(status, MachineStatusSpec)
    if status.ready:
        return Check("ready", node, True, f"{status.stage.value}, ready")
    unmet = "; ".join(status.unmet_conditions) or "not ready"
    return Check("ready", node, False, f"{status.stage.value}: {unmet}")


async def _services(api: client.Client, node: str) -> Check:
    services = [service for listing in await api.service_list() for service in listing.services]
    bad = [
        f"{s.id} {s.state}{' (' + s.message + ')' if s.message else ''}"
        for s in services
        if s.id not in KUBERNETES_SERVICES
        and (s.state not in GOOD_SERVICE_STATES or s.health == "unhealthy")
    ]
    if bad:
        return Check("services", node, False, "; ".join(bad))
    names = ", ".join(sorted(service.id for service in services)) or "none"
    return Check("services", node, True, f"running: {names}")
