"""The health check of a running member: its own status, asked over its client port.

``POST /v3/maintenance/status`` (etcd's HTTP gateway to the gRPC Status call) is answered by
the member alone, from its own state, with the mutual TLS of every client. The member is
healthy while it knows a leader and reports no errors (alarms such as NOSPACE). Learners
answer it too.

Not ``GET /health``: in etcd 3.5.1 that is a linearizable read through the leader (the
``serializable=true`` variant arrived in 3.5.3). Without quorum it hangs for etcd's request
timeout (about 6 s), and such a request in flight also holds up etcd's shutdown until it
times out.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from kiln.machined.etcd.config import EtcdMemberConfig
from kiln.machined.etcd.reports import hex_id
from kiln.machined.etcd.tls import EtcdClientTLS
from kiln.machined.services import HealthResult
from kiln.machined.services.health import HealthProbe

STATUS_PATH = "/v3/maintenance/status"


def member_status_probe(member: EtcdMemberConfig, *, timeout: float = 2.0) -> HealthProbe:
    """A probe of ``member`` through its local client URL with the node's client certificate.
    The certificate files are read at every check, so they may appear or change later."""
    target = f"{member.local_client_url}{STATUS_PATH}"
    tls = member.certs.client_tls()

    async def check() -> HealthResult:
        return await probe_status(target, tls, wait=timeout)

    return check


async def probe_status(url: str, tls: EtcdClientTLS, *, wait: float = 2.0) -> HealthResult:
    """Ask the etcd member at ``url`` (its status endpoint) for its status, waiting at most
    ``wait`` seconds for the answer, and judge it."""
    try:
        status = await asyncio.to_thread(_post_status, url, tls, wait)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return HealthResult(False, f"{url}: {exc}")
    return judge(status)


def judge(status: dict[str, Any]) -> HealthResult:
    """Healthy while the member knows a leader and reports no errors. The gateway prints
    uint64 fields as JSON strings."""
    errors = [str(error) for error in status.get("errors") or []]
    if errors:
        return HealthResult(False, "; ".join(errors))
    leader = int(status.get("leader") or 0)
    if leader == 0:
        return HealthResult(False, "no leader")
    role = " (learner)" if status.get("isLearner") else ""
    return HealthResult(
        True, f"leader {hex_id(leader)}, raft index {status.get('raftIndex')}{role}"
    )


def _post_status(url: str, tls: EtcdClientTLS, timeout: float) -> dict[str, Any]:
    context = tls.ssl_context()
    request = urllib.request.Request(url, data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read(1024 * 1024)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason)) from None
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not a status object")
    return data
