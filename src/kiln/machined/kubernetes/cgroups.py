"""The cgroup a container-mode node's pods live under, so kubelets of several nodes on one host
leave each other's pods alone.

A kubelet owns every pod cgroup below its ``cgroupRoot`` (``/kubepods/...`` under ``/`` by
default) and kills the processes of those that are not its pods. Two kubelets sharing the host's
root would kill each other's pods, so a container-mode node gives its kubelet a root of its own,
``/kiln/<hostname>-<digest of the state directory>`` (two test clusters may both have a
``cp-1``). The kubelet refuses a root that does not exist: it is made in every cgroup hierarchy
of the host before the kubelet starts (cpuset's ``cpus`` and ``mems`` copied from the parent,
cgroup v2's controllers enabled for it) and removed, deepest first, once the node's pods are gone.
A node on metal owns its machine and keeps the kubelet's default root.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from kiln.machined.kubernetes.errors import KubernetesError

logger = logging.getLogger(__name__)

PARENT = "kiln"
MOUNTINFO = Path("/proc/self/mountinfo")
CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")


def node_cgroup_root(hostname: str, state_dir: Path) -> str:
    """The kubelet ``cgroupRoot`` of the container-mode node ``hostname`` kept in ``state_dir``."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return f"/{PARENT}/{hostname}-{digest}"


def hierarchies(mountinfo: str) -> list[tuple[Path, bool]]:
    """The mount points of the cgroup hierarchies in ``/proc/self/mountinfo`` text, each with
    whether it is cgroup v2."""
    found: list[tuple[Path, bool]] = []
    for line in mountinfo.splitlines():
        _, separator, after = line.partition(" - ")
        fields = line.split()
        if not separator or len(fields) < 5:
            continue
        kind = after.split()[0]
        if kind in ("cgroup", "cgroup2"):
            found.append((Path(fields[4].replace("\\040", " ")), kind == "cgroup2"))
    return found


def _levels(mount: Path, root: str) -> list[Path]:
    """The directories of ``root`` in the hierarchy at ``mount``, outermost first."""
    parts = [part for part in root.split("/") if part]
    return [mount.joinpath(*parts[: n + 1]) for n in range(len(parts))]


def _copy_cpuset(directory: Path) -> None:
    for name in CPUSET_FILES:
        target = directory / name
        if target.exists() and not target.read_text().strip():
            target.write_text((directory.parent / name).read_text())


def _enable_controllers(directory: Path) -> None:
    """Let ``directory`` (cgroup v2) use every controller its parent has."""
    try:
        controllers = (directory.parent / "cgroup.controllers").read_text().split()
    except FileNotFoundError:  # not a cgroup: nothing to hand down
        return
    control = directory.parent / "cgroup.subtree_control"
    for controller in controllers:
        try:
            control.write_text(f"+{controller}")
        except OSError as exc:  # a controller the parent cannot hand down (processes in it)
            logger.debug("cgroup %s: %s not enabled: %s", directory, controller, exc)


def create(root: str, mountinfo_path: Path = MOUNTINFO) -> None:
    """Make ``root`` in every cgroup hierarchy of the host; blocking."""
    try:
        found = hierarchies(mountinfo_path.read_text())
        for mount, unified in found:
            for level in _levels(mount, root):
                if unified:
                    _enable_controllers(level)
                level.mkdir(exist_ok=True)
                if (mount / "cpuset.cpus").exists() or (level / "cpuset.cpus").exists():
                    _copy_cpuset(level)
    except OSError as exc:
        raise KubernetesError(f"cannot make the kubelet's cgroup {root}: {exc}") from exc


def remove(root: str, mountinfo_path: Path = MOUNTINFO) -> int:
    """Remove ``root`` and the cgroups below it (empty once the pods are gone) from every
    hierarchy, and the shared parent when no other node uses it; how many were removed.
    Errors are logged, never raised: a node being stopped must stop."""
    removed = 0
    try:
        found = hierarchies(mountinfo_path.read_text())
    except OSError as exc:
        logger.warning("cannot read the cgroup hierarchies: %s", exc)
        return 0
    for mount, _ in found:
        top = mount.joinpath(*[part for part in root.split("/") if part])
        if not top.is_dir():
            continue
        below = [Path(walked) for walked, _, _ in os.walk(top)]
        for directory in sorted(below, key=lambda p: -len(p.parts)):
            try:
                directory.rmdir()
                removed += 1
            except OSError as exc:
                logger.warning("cannot remove the cgroup %s: %s", directory, exc)
        for parent in reversed(_levels(mount, root)[:-1]):
            try:
                parent.rmdir()
            except OSError:  # another node's cgroup is still in it
                break
    return removed
