"""Node daemons as detached processes: started with ``kiln-machined --mode container``, found
again by pid (only while ``/proc`` shows the recorded command line and start time), stopped
with SIGTERM, a grace period and SIGKILL, and the services a killed daemon left behind stopped
from its supervisor's pid records (``<node>/state/pids/<service>.json``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kiln import pids, process
from kiln.provision.record import ClusterRecord, NodeRecord, ProcessRecord

logger = logging.getLogger(__name__)

STOP_GRACE = 20.0  # a daemon stops its services (etcd) before it exits
LEFTOVER_GRACE = 5.0
EXEC_WITHIN = 10.0  # a launcher (the network namespace's) execs the recorded program by then
PASSED_ENV = ("KILN_ETCD_BIN_DIR",)  # where the daemon finds etcd, when set for kilnctl


def state_dir(record: ClusterRecord, node: NodeRecord) -> Path:
    return record.node_dir(node) / "state"


def log_path(record: ClusterRecord, node: NodeRecord) -> Path:
    name = "console.log" if record.provisioner == "qemu" else "daemon.log"
    return record.node_dir(node) / name


def daemon_argv(record: ClusterRecord, node: NodeRecord) -> list[str]:
    return [
        *[sys.executable, "-m", "kiln.machined", "--mode", "container"],
        *["--state", str(state_dir(record, node))],
        *["--api-addr", f"{node.address}:{node.api_port}"],
    ]


def is_running(node: NodeRecord) -> bool:
    """Whether the recorded daemon still runs (and its pid was not reused by another program)."""
    return node.pid is not None and _is_ours(node.pid, node.argv, node.start_time)


def alive(found: ProcessRecord) -> bool:
    """Whether a recorded process still runs (and is the one recorded)."""
    return found.pid is not None and _is_ours(found.pid, found.argv, found.start_time)


def detach(argv: list[str], output: Path, recorded: list[str] | None = None) -> ProcessRecord:
    """Start ``argv`` detached; its record, whose command line is ``recorded`` (what the
    process shows once it has exec'd, when that differs from ``argv``) or ``argv``."""
    pid = process.detach(argv, output=output, env={"PYTHONUNBUFFERED": "1"})
    if recorded is not None and recorded != argv:
        _until_exec(pid, recorded)
    return ProcessRecord(pid=pid, argv=recorded or argv, start_time=pids.process_start_time(pid))


def _until_exec(pid: int, argv: list[str]) -> None:
    """Wait (at most :data:`EXEC_WITHIN` seconds) until a launcher has exec'd ``argv``: until
    then /proc shows the launcher's command line, and the process would not count as alive."""
    deadline = time.monotonic() + EXEC_WITHIN
    while pids.process_alive(pid) and pids.process_cmdline(pid) != tuple(argv):
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)


def start(record: ClusterRecord, node: NodeRecord) -> None:
    """Start the node's daemon, detached, and record its process in ``node``."""
    record.node_dir(node).mkdir(parents=True, exist_ok=True)
    argv = daemon_argv(record, node)
    env = {"PYTHONUNBUFFERED": "1"} | {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    pid = process.detach(argv, output=log_path(record, node), env=env)
    node.pid, node.argv, node.start_time = pid, argv, pids.process_start_time(pid)


def log_tail(record: ClusterRecord, node: NodeRecord, lines: int = 15) -> list[str]:
    try:
        text = log_path(record, node).read_text(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


@dataclass(frozen=True)
class Stopped:
    """What stopping one node did: its daemon (``"stopped"``, ``"not running"``,
    ``"survived SIGKILL"``) and the services it left behind that were stopped."""

    node: str
    daemon: str
    leftovers: tuple[str, ...] = ()


async def stop(record: ClusterRecord, node: NodeRecord, grace: float = STOP_GRACE) -> Stopped:
    """Stop the node's daemon, then whatever its supervisor recorded and is still running."""
    daemon = "not running"
    if node.pid is not None and is_running(node):
        gone = await pids.stop(node.pid, grace, name=f"node daemon {node.name}")
        daemon = "stopped" if gone else "survived SIGKILL"
    leftovers = []
    for service, pid, argv, start_time in _pid_records(state_dir(record, node) / "pids"):
        if _is_ours(pid, argv, start_time):
            logger.info("stopping %s (pid %d) left behind by %s", service, pid, node.name)
            await pids.stop(pid, LEFTOVER_GRACE, name=f"{service} of {node.name}")
            leftovers.append(service)
    return Stopped(node.name, daemon, tuple(leftovers))


def leftover_services(record: ClusterRecord, node: NodeRecord) -> list[str]:
    """Services recorded by the node's supervisor whose processes still run."""
    return [
        service
        for service, pid, argv, start_time in _pid_records(state_dir(record, node) / "pids")
        if _is_ours(pid, argv, start_time)
    ]


def _is_ours(pid: int, argv: list[str] | tuple[str, ...], start_time: int | None) -> bool:
    if not argv or pids.process_cmdline(pid) != tuple(argv):
        return False
    return start_time is None or pids.process_start_time(pid) == start_time


def _pid_records(directory: Path) -> list[tuple[str, int, list[str], int | None]]:
    """(service, pid, argv, start time) of each readable record; others are skipped."""
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            start_time = data.get("start_time")
            found.append(
                (
                    path.stem,
                    int(data["pid"]),
                    [str(arg) for arg in data["argv"]],
                    None if start_time is None else int(start_time),
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable pid record %s: %s", path, exc)
    return found
