"""A cluster of VMs booted from the built image: ``kilnctl cluster create --provisioner qemu``
makes the private network, boots a control plane and a worker from the image's ISO, installs
each to its own disk, bootstraps etcd and adds a context whose endpoint reaches the worker
through the control plane; ``cluster destroy`` leaves no VM, no network namespace and no
state behind."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from image_vm import BuiltImage

from kiln import pids, process
from kiln.machinery import kilnconfig
from kiln.provision.qemu import network
from kiln.provision.qemu.provisioner import QemuProvisioner
from kiln.provision.record import load_record, record_path

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

KILNCTL = str(Path(sys.executable).with_name("kilnctl"))
NAME = "e2e-vms"
CREATE_TIMEOUT = 900.0


@pytest_asyncio.fixture
async def home(tmp_path: Path) -> AsyncIterator[Path]:
    """A HOME for kilnctl; a cluster a failed test left behind is destroyed."""
    yield tmp_path
    root = tmp_path / ".kiln" / "clusters"
    if record_path(root / NAME).exists():
        await QemuProvisioner(state_root=root).destroy(NAME)


async def kilnctl(home: Path, *args: str, timeout: float = 60.0) -> process.Completed:  # noqa: ASYNC109
    env = {"HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return await process.run([KILNCTL, *args], env=env, timeout=timeout, check=False)


async def test_a_vm_cluster_from_create_to_destroy(image: BuiltImage, home: Path) -> None:
    created = await kilnctl(
        home,
        *["cluster", "create", "--provisioner", "qemu", "--image", str(image.directory)],
        *["--name", NAME, "--controlplanes", "1", "--workers", "1"],
        timeout=CREATE_TIMEOUT,
    )
    output = created.stdout.decode() + created.stderr.decode()
    assert created.returncode == 0, output
    assert "✓ wait for a healthy cluster: etcd: 1 voting member: " in output
    record = load_record(home / ".kiln" / "clusters" / NAME)
    assert record.provisioner == "qemu" and record.complete
    assert [node.cluster_address for node in record.nodes] == ["10.5.0.2", "10.5.0.3"]
    qemus = [node.pid for node in record.nodes if node.pid is not None]
    assert len(qemus) == 2 and all(map(pids.process_alive, qemus))
    assert network.exists(NAME)

    context = kilnconfig.load(home / ".kiln" / "config").get(NAME)
    assert context.endpoints == [record.nodes[0].address]
    assert context.nodes == ["10.5.0.2", "10.5.0.3"]
    got = await kilnctl(home, "get", "machinestatus", "-o", "yaml", "-n", "10.5.0.3")
    assert got.returncode == 0, got.stderr.decode()
    status = yaml.safe_load(got.stdout.decode())
    assert status["node"] == "10.5.0.3"  # the worker, through the control plane's forwarding
    assert status["spec"]["stage"] == "running"
    for address in ("10.5.0.2", "10.5.0.3"):  # each runs from slot A of its installed disk
        got = await kilnctl(home, "get", "bootslots", "-o", "yaml", "-n", address)
        assert got.returncode == 0, got.stderr.decode()
        slots = yaml.safe_load(got.stdout.decode())["spec"]
        assert slots["active"] == "A", slots
        assert {s["slot"]: s["state"] for s in slots["slots"]} == {"A": "good", "B": "empty"}
    health = await kilnctl(
        home,
        *["health", "--wait-timeout", "60s"],
        *["--control-plane-nodes", "10.5.0.2", "--worker-nodes", "10.5.0.3"],
        timeout=120,
    )
    assert health.returncode == 0, health.stdout.decode() + health.stderr.decode()
    assert "✓ 10.5.0.3: machine type: worker" in health.stdout.decode()

    destroyed = await kilnctl(home, "cluster", "destroy", "--name", NAME, timeout=120)
    assert destroyed.returncode == 0, destroyed.stderr.decode()
    assert not [pid for pid in qemus if pids.process_alive(pid)]
    assert not [p.pid for p in record.network if p.pid is not None and pids.process_alive(p.pid)]
    assert not network.exists(NAME)
    assert not (home / ".kiln" / "clusters" / NAME).exists()
