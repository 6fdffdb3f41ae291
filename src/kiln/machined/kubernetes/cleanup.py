"""Leaving the host clean when a node's Kubernetes services stop: containers outlive containerd
(their shims run on their own), and pods leave mounts (volumes, network namespaces, root
filesystems) under the node's state directory and the node's CNI bridge on the host.

With the kubelet stopped and containerd still running, every task of the CRI namespace is
killed and deleted; after containerd stopped, what is still mounted under the state directory
is unmounted (deepest first) and the bridge is removed. Errors are logged, never raised: a
node being stopped must stop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from kiln import process
from kiln.machined.kubernetes.containerd import ContainerdPaths

logger = logging.getLogger(__name__)

CRI_NAMESPACE = "k8s.io"
TIMEOUT = 30.0


async def _run(*argv: str) -> str | None:
    try:
        done = await process.run(list(argv), timeout=TIMEOUT)
    except process.ProcessError as exc:
        logger.warning("cleaning up: %s", exc)
        return None
    return done.stdout.decode()


async def remove_containers(paths: ContainerdPaths) -> int:
    """Kill and delete every task of the CRI namespace; how many there were."""
    ctr = shutil.which("ctr")
    if ctr is None or not paths.socket.exists():
        return 0
    base = [ctr, "--address", str(paths.socket), "--namespace", CRI_NAMESPACE]
    listed = await _run(*base, "tasks", "list", "--quiet")
    ids = [line.strip() for line in (listed or "").splitlines() if line.strip()]
    for task in ids:
        await _run(*base, "tasks", "kill", "--all", "--signal", "SIGKILL", task)
    for task in ids:
        await _run(*base, "tasks", "delete", "--force", task)
    return len(ids)


def mounts_under(directory: Path, mountinfo: str) -> list[str]:
    """Mount points at or below ``directory`` in ``/proc/self/mountinfo`` text, deepest first."""
    prefix = str(directory).rstrip("/") + "/"
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


async def unmount_under(directory: Path) -> int:
    """Lazily unmount everything below ``directory``; how many mounts there were."""
    try:
        mountinfo = await asyncio.to_thread(Path("/proc/self/mountinfo").read_text)
    except OSError:
        return 0
    points = mounts_under(directory, mountinfo)
    for point in points:
        await _run("umount", "--lazy", point)
    return len(points)


async def remove_link(name: str) -> None:
    if await asyncio.to_thread(Path("/sys/class/net", name).exists):
        await _run("ip", "link", "delete", name)
