"""Health checks of Kubernetes: of the control plane, asked of every control-plane node (its
kube-apiserver ready, the node probes ``/readyz``; its kube-controller-manager and
kube-scheduler healthy, ``/healthz``; as the node's services report them), and of the cluster's
nodes: every Node Ready, as the API server (reached with an admin kubeconfig the first
control-plane node issues) says."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from kiln.machinery import client
from kiln.machinery.api import machine_pb2
from kiln.machinery.health.checks import Check, Reach, connect
from kiln.machinery.kubernetes.apiread import list_nodes
from kiln.machinery.kubernetes.kubeconfig import KubeconfigError
from kiln.machinery.kubernetes.services import CONTROL_PLANE_SERVICES

NAME = "kubernetes control plane"
NODES = "kubernetes nodes"


async def kubernetes_checks(context: Reach, controlplanes: Sequence[str]) -> list[Check]:
    """One check per control-plane node, and one of the cluster's nodes."""
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_check(context, node), name=f"kubernetes health {node}")
            for node in controlplanes
        ]
        nodes = group.create_task(_nodes(context, controlplanes[0]), name="kubernetes nodes")
    return [task.result() for task in tasks] + [nodes.result()]


async def _nodes(context: Reach, controlplane: str) -> Check:
    try:
        async with connect(context, controlplane) as api:
            (answer,) = await api.kubeconfig()
        listed = await asyncio.to_thread(list_nodes, answer.kubeconfig)
    except (client.ClientError, KubeconfigError) as err:
        return Check(NODES, controlplane, False, str(err))
    return nodes_check(controlplane, listed)


def nodes_check(where: str, listed: Mapping[str, Any]) -> Check:
    """Whether every Node of a ``/api/v1/nodes`` answer is Ready, and why not."""
    states: list[str] = []
    ok = True
    for node in listed.get("items") or []:
        name = (node.get("metadata") or {}).get("name", "?")
        ready = next(
            (c for c in (node.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"),
            None,
        )
        if ready is not None and ready.get("status") == "True":
            states.append(f"{name} Ready")
        else:
            ok = False
            why = (ready or {}).get("message") or "no Ready condition yet"
            states.append(f"{name} NotReady ({why})")
    if not states:
        return Check(NODES, where, False, "no node has registered")
    return Check(NODES, where, ok, ", ".join(states))


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
