"""Leaving the host clean when a node's Kubernetes services stop: containers outlive containerd
(their shims run on their own), and pods leave mounts (volumes, network namespaces, root
filesystems) under the node's state directory and the node's CNI bridge on the host.

With the kubelet stopped and containerd still running, every task of the CRI namespace is
killed and deleted; after containerd stopped, what is still mounted under the state directory
is unmounted (deepest first) and the bridge is removed; a container-mode node also removes the
logs its pods left in the host's ``/var/log/pods``, and kube-proxy's iptables rules unless
another node's kube-proxy still runs on the host. Errors are logged, never raised: a node being
stopped must stop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from kiln import process
from kiln.machined.kubernetes.containerd import SEARCH_PATH, ContainerdPaths

logger = logging.getLogger(__name__)

CRI_NAMESPACE = "k8s.io"
POD_LOGS = Path("/var/log/pods")
PROC = Path("/proc")
PROXY_CONFIG = "/kube-proxy/config.yaml"  # under a node's state directory (.kubeproxy)
TIMEOUT = 30.0
UNMOUNT_ROUNDS = 5


async def _run(*argv: str, quiet: bool = False) -> str | None:
    try:
        done = await process.run(list(argv), env={"PATH": SEARCH_PATH}, timeout=TIMEOUT)
    except process.ProcessError as exc:
        if not quiet:
            logger.warning("cleaning up: %s", exc)
        return None
    return done.stdout.decode()


async def remove_containers(paths: ContainerdPaths) -> int:
    """Kill and delete every task of the CRI namespace; how many there were."""
    ctr = shutil.which("ctr")
    if ctr is None or not paths.socket.exists():
        return 0
    base = [ctr, "--address", str(paths.socket), "--namespace", CRI_NAMESPACE]
    tasks = running_tasks(await _run(*base, "tasks", "list") or "")
    for task, running in tasks.items():
        if running:
            await _run(*base, "tasks", "kill", "--all", "--signal", "SIGKILL", task)
    for task in tasks:
        # containerd's CRI plugin deletes a killed task itself, often first
        await _run(*base, "tasks", "delete", "--force", task, quiet=True)
    return len(tasks)


def running_tasks(listing: str) -> dict[str, bool]:
    """The tasks of ``ctr tasks list`` output, and whether each still runs."""
    found: dict[str, bool] = {}
    for line in listing.splitlines()[1:]:  # TASK PID STATUS
        fields = line.split()
        if len(fields) >= 3:
            found[fields[0]] = fields[2] in ("RUNNING", "PAUSED", "PAUSING", "CREATED")
    return found


async def clean_proxy_rules(kube_proxy: Path, own_config: Path, proc: Path = PROC) -> bool:
    """Remove the rules kube-proxy left in the host's iptables (it also tries IPVS sets and
    fails where ipset is missing: the iptables rules are gone all the same), unless the
    kube-proxy of another node on this host still uses them; whether they were removed."""
    others = await asyncio.to_thread(other_kube_proxies, own_config, proc)
    if others:
        logger.info("kube-proxy rules left in place: %d other node(s) here use them", others)
        return False
    await _run(str(kube_proxy), "--cleanup", quiet=True)
    return True


def other_kube_proxies(own_config: Path, proc: Path = PROC) -> int:
    """How many kube-proxy processes of other nodes (started with a ``--config=`` of another
    ``<state>/kube-proxy/config.yaml``) run on this host."""
    found = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        config = argv[1].decode(errors="replace") if len(argv) > 1 else ""
        if config.endswith(PROXY_CONFIG) and config != f"--config={own_config}":
            found += 1
    return found


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
    """Lazily unmount everything below ``directory``; how many mounts there were. The kubelet
    makes its root directory a shared bind mount, so a pod's mount can show twice: rounds go
    on until none is left (or none goes away)."""
    removed = 0
    for _ in range(UNMOUNT_ROUNDS):
        try:
            mountinfo = await asyncio.to_thread(Path("/proc/self/mountinfo").read_text)
        except OSError:
            return removed
        points = mounts_under(directory, mountinfo)
        if not points:
            break
        for point in points:
            if await _run("umount", "--lazy", point, quiet=True) is not None:
                removed += 1
    return removed


def remove_socket_dir(paths: ContainerdPaths) -> bool:
    """Remove the directory containerd's socket had outside the state directory (when the
    state directory's path was too long for it); whether there was one."""
    directory = paths.socket_dir_elsewhere
    if directory is None or not directory.exists():
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


async def remove_link(name: str) -> None:
    if await asyncio.to_thread(Path("/sys/class/net", name).exists):
        await _run("ip", "link", "delete", name)


def remove_pod_logs(kubelet_root: Path, logs: Path = POD_LOGS) -> int:
    """Remove the log directories (``<namespace>_<name>_<uid>``) of the pods the kubelet at
    ``kubelet_root`` ran (one directory each in its ``pods``) from ``logs``; how many. Blocking."""
    try:
        uids = {entry.name for entry in (kubelet_root / "pods").iterdir()}
        found = [d for d in logs.iterdir() if d.name.rpartition("_")[2] in uids] if uids else []
    except FileNotFoundError:
        return 0
    except OSError as exc:
        logger.warning("cleaning up: cannot list the pods' logs: %s", exc)
        return 0
    removed = 0
    for directory in found:
        try:
            shutil.rmtree(directory)
            removed += 1
        except OSError as exc:
            logger.warning("cleaning up: cannot remove %s: %s", directory, exc)
    return removed
