"""Waiting on a cluster with live progress: until it is healthy, or gone after a delete."""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.live import Live

from kiln.hub.cli.cluster_status import headline, render_status, split
from kiln.hub.cli.connection import call
from kiln.hub.cli.render import decode
from kiln.hub.errors import HubClientError
from kiln.hub.resources import ClusterStatusSpec
from kiln.machinery.api import hubcluster_pb2, hubcluster_pb2_grpc

POLL = 1.0


async def wait_cluster(
    hub: hubcluster_pb2_grpc.ClusterServiceAsyncStub, name: str, limit: int, *, gone: bool
) -> None:
    """Redraw the cluster's status every second until it is healthy (or, with ``gone``, until
    it no longer exists); HubClientError saying what was still missing after ``limit``, or at
    once why its rollout is paused."""
    deadline = time.monotonic() + limit
    request = hubcluster_pb2.ClusterRequest(id=name)
    last = "no answer yet"
    console = Console(highlight=False, width=200, stderr=True)
    with Live(console=console, transient=True, refresh_per_second=4) as live:
        while True:
            try:
                reply = await call(hub.GetCluster, request)
            except HubClientError as err:
                if gone and err.code == "NOT_FOUND":
                    return
                raise
            cluster, status = split(decode(list(reply.resources)))
            live.update(render_status(cluster, status))
            # A status made for an older template says nothing of the rollout of this one.
            current = status is not None and status.template == cluster.spec.template.fingerprint()
            if not gone and current and status is not None and status.healthy:
                return
            if not gone and current and status is not None and status.rollout:
                raise HubClientError(f"cluster {name}: {status.rollout}")
            last = _missing(headline(name, status), status)
            if time.monotonic() + POLL > deadline:
                raise HubClientError(
                    f"cluster {name}: not {'gone' if gone else 'healthy'} in {limit}s: {last}"
                )
            await asyncio.sleep(POLL)


def _missing(head: str, status: ClusterStatusSpec | None) -> str:
    if status is None:
        return head
    failed = [f"{c.name}: {c.reason}" for c in status.checks if not c.ok]
    busy = [f"{m.uuid} {m.phase}: {m.message}" for m in status.machines if m.phase != "running"]
    return "; ".join([head, *status.waiting_for, *busy, *failed][:4])
