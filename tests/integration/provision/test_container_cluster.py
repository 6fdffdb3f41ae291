"""Local clusters end to end: ``kilnctl cluster create`` starts real node daemons on loopback
addresses, bootstraps etcd and adds a context; ``kilnctl health`` checks it; a killed daemon
shows; ``kilnctl cluster destroy`` leaves no process, no state and no context behind.

kilnctl runs as its own process (as a person runs it), with a temporary HOME: the default
state root (``~/.kiln/clusters``) and kilnconfig (``~/.kiln/config``) are under it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from kiln import pids, process
from kiln.machinery import kilnconfig
from kiln.provision import ContainerProvisioner
from kiln.provision.record import ClusterRecord, load_record, record_path

pytestmark = pytest.mark.integration

CONTROLPLANES = 3
WORKERS = 1
KILNCTL = str(Path(sys.executable).with_name("kilnctl"))


class Kilnctl:
    """kilnctl with HOME set to ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    @property
    def kilnconfig(self) -> Path:
        return self.home / ".kiln" / "config"

    @property
    def state_root(self) -> Path:
        return self.home / ".kiln" / "clusters"

    def state_dir(self, name: str) -> Path:
        return self.state_root / name

    async def __call__(self, *args: str, timeout: float = 60.0) -> process.Completed:  # noqa: ASYNC109
        env = {"HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        env |= {k: os.environ[k] for k in ("KILN_ETCD_BIN_DIR",) if k in os.environ}
        return await process.run([KILNCTL, *args], env=env, timeout=timeout, check=False)


@pytest_asyncio.fixture
async def kilnctl(tmp_path: Path) -> AsyncIterator[Kilnctl]:
    """kilnctl with a temporary HOME; clusters a failed test left behind are destroyed."""
    yield Kilnctl(tmp_path / "home")
    for root in (tmp_path / "home" / ".kiln" / "clusters", tmp_path / "clusters"):
        for state_dir in root.glob("*"):
            if record_path(state_dir).exists():
                await ContainerProvisioner(state_root=root).destroy(state_dir.name)


def out(result: process.Completed) -> str:
    return result.stdout.decode()


def err(result: process.Completed) -> str:
    return result.stderr.decode()


def service_pids(record: ClusterRecord) -> list[int]:
    """The pids the nodes' supervisors recorded (etcd, ...)."""
    found = []
    for node in record.nodes:
        for path in (record.node_dir(node) / "state" / "pids").glob("*.json"):
            found.append(int(json.loads(path.read_text())["pid"]))
    return found


async def test_a_cluster_from_create_to_destroy(kilnctl: Kilnctl) -> None:
    created = await kilnctl(
        *["cluster", "create", "--provisioner", "container", "--name", "demo"],
        *["--controlplanes", str(CONTROLPLANES), "--workers", str(WORKERS)],
        timeout=150,
    )
    assert created.returncode == 0, out(created) + err(created)
    assert f"✓ wait for a healthy cluster: etcd: {CONTROLPLANES} voting members" in out(created)
    record = load_record(kilnctl.state_dir("demo"))
    assert record.complete and len(record.nodes) == CONTROLPLANES + WORKERS
    daemons = [node.pid for node in record.nodes if node.pid is not None]
    assert len(daemons) == len(record.nodes) and all(map(pids.process_alive, daemons))
    assert len({node.address for node in record.nodes}) == len(record.nodes)
    assert all(node.address.startswith("127.") for node in record.nodes)

    health = await kilnctl("health", "--wait-timeout", "30s")
    assert health.returncode == 0, out(health) + err(health)
    assert f"✓ etcd members: {CONTROLPLANES} voting members" in out(health)
    assert "✗" not in out(health) and "healthy: all" in out(health)

    config = kilnconfig.load(kilnctl.kilnconfig)
    context = config.get("demo")
    assert config.context == "demo"
    controlplanes = [n.address for n in record.nodes if n.role == "controlplane"]
    assert context.endpoints == controlplanes
    assert context.nodes == [node.address for node in record.nodes]
    worker = record.nodes[-1].address  # asked through the context's endpoint
    got = await kilnctl("get", "machinestatus", "-o", "yaml", "-n", worker)
    assert got.returncode == 0, err(got)
    status = yaml.safe_load(out(got))
    assert status["node"] == worker
    assert status["spec"]["stage"] == "running" and status["spec"]["ready"] is True
    versions = await kilnctl("version")
    assert versions.returncode == 0, err(versions)
    assert out(versions).count("Maintenance: no") == len(record.nodes)

    again = await kilnctl("cluster", "create", "--name", "demo", "--controlplanes", "1")
    assert again.returncode == 1
    assert "error: cluster demo exists already" in err(again)
    assert load_record(kilnctl.state_dir("demo")) == record  # untouched

    victim = record.nodes[1]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    await pids.wait_gone(victim.pid)
    shown = await kilnctl("cluster", "show", "--name", "demo")
    assert shown.returncode == 0, err(shown)
    rows = {line.split()[0]: line for line in out(shown).splitlines() if line.startswith("demo-")}
    assert "dead (etcd still running)" in rows[victim.name]
    assert rows[record.nodes[0].name].rstrip().endswith("running")
    unhealthy = await kilnctl("health", "--wait-timeout", "2s")
    assert unhealthy.returncode == 1
    assert f"✗ {victim.address}: reachable" in out(unhealthy)
    assert "checks failed after 2s" in err(unhealthy)

    leftovers = service_pids(record)
    assert leftovers  # etcd of each control plane, one of them orphaned by the kill
    destroyed = await kilnctl("cluster", "destroy", "--name", "demo", timeout=90)
    assert destroyed.returncode == 0, out(destroyed) + err(destroyed)
    # The orphaned etcd is stopped, unless it has ended on its own in the meantime.
    line = next(x for x in out(destroyed).splitlines() if f"stop node {victim.name}:" in x)
    assert line.endswith(("not running", "not running; also stopped etcd")), line
    assert not [pid for pid in daemons + leftovers if pids.process_alive(pid)]
    assert not kilnctl.state_dir("demo").exists()
    assert "demo" not in kilnconfig.load(kilnctl.kilnconfig).contexts
    assert "removed context demo" in out(destroyed)


async def test_a_failed_create_leaves_state_that_destroy_removes(
    kilnctl: Kilnctl, tmp_path: Path
) -> None:
    state_root = tmp_path / "clusters"
    broken_etcd = '{"cluster": {"etcd": {"extraArgs": {"snapshot-count": "x"}}}}'
    created = await kilnctl(
        *["cluster", "create", "--name", "bad", "--state", str(state_root)],
        *["--config-patch", broken_etcd],
        timeout=90,
    )
    assert created.returncode == 1
    assert "error: bootstrap etcd: " in err(created)
    assert 'invalid value "x" for flag -snapshot-count' in err(created)
    assert "destroying the cluster removes it" in err(created)
    record = load_record(state_root / "bad")
    assert not record.complete
    (node,) = record.nodes
    assert node.pid is not None and pids.process_alive(node.pid)

    shown = await kilnctl("cluster", "show", "--name", "bad", "--state", str(state_root))
    assert "incomplete (create did not finish)" in out(shown)

    destroyed = await kilnctl("cluster", "destroy", "--name", "bad", "--state", str(state_root))
    assert destroyed.returncode == 0, err(destroyed)
    assert not pids.process_alive(node.pid)
    assert not (state_root / "bad").exists()
    assert "bad" not in kilnconfig.load(kilnctl.kilnconfig, missing_ok=True).contexts

    missing = await kilnctl("cluster", "destroy", "--name", "bad", "--state", str(state_root))
    assert missing.returncode == 1
    assert "error: no cluster named bad" in err(missing)
