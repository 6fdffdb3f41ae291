"""Reboot, reset, shutdown and crashes of a real node daemon."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest
from machined_cluster import (
    ETCD_WAITING,
    Cluster,
    changed,
    eventually,
    hostname,
    insecure,
    machine_status,
    maintenance_version,
    served_certificate,
    wait_rebooted,
    wait_running,
)

from kiln.machined.testing import NodeProcess, NodeStartError
from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


async def uuid(node: NodeProcess, cluster: Cluster | None = None) -> str:
    api = cluster.client(node) if cluster is not None else insecure(node)
    async with api:
        (found,) = await api.hardware()
    return found.uuid


async def test_reboot_returns_to_running(cluster: Cluster, configured: NodeProcess) -> None:
    before = await machine_status(cluster, configured)
    identity = await uuid(configured, cluster)
    async with cluster.client(configured) as api:
        await api.reboot()
    after = await wait_rebooted(cluster, configured, before)
    assert after.resource.spec.unmet_conditions == [ETCD_WAITING]  # nobody bootstrapped it
    assert await uuid(configured, cluster) == identity  # kept on disk
    async with cluster.client(configured) as api:
        messages = [event.message async for event in api.events()]
    assert "phase reboot: started" in messages
    assert messages.count("phase boot: started (configured)") == 2


async def test_reset_returns_to_maintenance_mode(cluster: Cluster, configured: NodeProcess) -> None:
    identity = await uuid(configured, cluster)
    maintenance_crt = (configured.state_dir / "maintenance" / "tls.crt").read_bytes()
    async with cluster.client(configured) as api:
        await api.reset()
    await eventually(lambda: maintenance_version(configured), bool)
    assert not (configured.state_dir / "config.yaml").exists()
    left = {p.name for p in configured.state_dir.iterdir()}
    assert "maintenance" in left
    assert left <= {"maintenance", "logs", "pids", "state.db", "state.db-wal", "state.db-shm"}
    assert (configured.state_dir / "maintenance" / "tls.crt").read_bytes() == maintenance_crt
    assert await uuid(configured) != identity  # a new machine identity after a wipe


async def test_sigterm_shuts_down_cleanly(cluster: Cluster, configured: NodeProcess) -> None:
    assert await configured.stop() == 0
    assert "phase shutdown: done" in configured.output()


async def test_shutdown_through_the_api_exits_zero(
    cluster: Cluster, configured: NodeProcess
) -> None:
    async with cluster.client(configured) as api:
        await api.shutdown()
    assert await configured.wait() == 0


async def test_killed_node_comes_back_configured(cluster: Cluster, configured: NodeProcess) -> None:
    identity = await uuid(configured, cluster)
    async with cluster.client(configured) as api:
        await api.apply_configuration(changed(cluster.controlplane, hostname="before-kill"))
    await eventually(lambda: hostname(cluster, configured), lambda name: name == "before-kill")
    assert await configured.kill() == -9
    await configured.start()
    await wait_running(cluster, configured)
    assert await hostname(cluster, configured) == "before-kill"
    assert await uuid(configured, cluster) == identity


async def test_a_restarted_control_plane_answers_at_once_with_the_same_certificate(
    cluster: Cluster, configured: NodeProcess
) -> None:
    before = await served_certificate(configured)
    await configured.stop()
    await configured.start()  # returns as soon as the API answers, before the boot is done
    async with cluster.client(configured) as api:
        (status,) = await api.get("machinestatus")  # waits for the boot, does not fail
        (version,) = await api.version()
    assert status.node == version.metadata.node != ""
    assert not version.maintenance
    assert await served_certificate(configured) == before
    await wait_running(cluster, configured)


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01])
async def test_killed_during_an_apply_comes_back_on_a_good_config(
    cluster: Cluster, configured: NodeProcess, delay: float
) -> None:
    config = changed(cluster.controlplane, hostname="during-kill")
    async with cluster.client(configured) as api:
        applying = asyncio.create_task(api.apply_configuration(config), name="apply")
        await asyncio.sleep(delay)
        await configured.kill()
        with contextlib.suppress(ClientError):  # killed before it answered
            await applying
    await configured.start()
    await wait_running(cluster, configured)
    assert await hostname(cluster, configured) in ("during-kill", socket.gethostname())


async def test_a_taken_api_address_is_one_error_line_and_exit_one(
    node: NodeProcess, tmp_path: Path
) -> None:
    second = NodeProcess(tmp_path / "second", port=node.port)
    with contextlib.suppress(NodeStartError):  # it may see the first node answer, or not
        await second.start()
    try:
        code = await asyncio.wait_for(second.wait(), timeout=30)
    except TimeoutError:
        await second.stop(grace=1)  # a daemon that kept running must not outlive the test
        raise
    assert code == 1
    errors = [line for line in second.output().splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot listen on {node.endpoint}: " + errors[0].split(": ", 2)[2]]
    # refused by the API server started before the node loads: nothing else was started
    assert "phase initialize" not in second.output()
