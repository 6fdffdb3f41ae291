"""Health checks of the Kubernetes control plane, asked of every control-plane node: its
kube-apiserver ready (the node probes ``/readyz``), its kube-controller-manager and
kube-scheduler healthy (``/healthz``), as the node's services report them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kiln.machinery import client
from kiln.machinery.api import machine_pb2
from kiln.machinery.health.checks import Check, Reach, connect
from kiln.machinery.kubernetes.services import CONTROL_PLANE_SERVICES

NAME = "kubernetes control plane"


async def kubernetes_checks(context: Reach, controlplanes: Sequence[str]) -> list[Check]:
    """One check per control-plane node."""
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_check(context, node), name=f"kubernetes health {node}")
            for node in controlplanes
        ]
    return [task.result() for task in tasks]


async def _check(context: Reach, node: str) -> Check:
    try:
        async with connect(context, node) as api:
            listings = await api.service_list()
    except client.ClientError as err:
        return Check(NAME, node, False, err.message)
    return control_plane_check(node, [s for listing in listings for s in listing.services])


def control_plane_check(node: str, services: Sequence[machine_pb2.ServiceStatus]) -> Check:
    """Whether every control-plane service of ``node`` runs and is healthy, and why not."""
    found = {service.id: service for service in services}
    bad: list[str] = []
    for name in CONTROL_PLANE_SERVICES:
        service = found.get(name)
        if service is None:
            bad.append(f"{name} is not a service of this node")
        elif service.state != "running" or service.health != "healthy":
            state = service.state if service.state != "running" else service.health or "unchecked"
            bad.append(f"{name} {state}{f' ({service.message})' if service.message else ''}")
    if bad:
        return Check(NAME, node, False, "; ".join(bad))
    return Check(NAME, node, True, "apiserver ready, controller-manager and scheduler healthy")
