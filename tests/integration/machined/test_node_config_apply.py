"""ApplyConfiguration on a configured node: validation, cluster checks, dry runs and the modes."""

from __future__ import annotations

import asyncio

import pytest
from machined_cluster import (
    Cluster,
    changed,
    eventually,
    hostname,
    machine_status,
    wait_rebooted,
)

from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


def stored(node: NodeProcess, name: str = "config.yaml") -> bytes:
    return (node.state_dir / name).read_bytes()


async def test_an_invalid_config_lists_every_problem_and_changes_nothing(
    cluster: Cluster, configured: NodeProcess
) -> None:
    before = stored(configured)
    text = cluster.controlplane.to_yaml()
    broken = text.replace("type: controlplane", "type: banana").replace(
        "name: test", "name: Not A Hostname!"
    )
    broken = broken.replace("machine:\n", "machine:\n  colour: blue\n", 1)
    async with cluster.client(configured) as api:
        with pytest.raises(ClientError) as invalid:
            await api.apply_configuration(broken.encode())
        (config,) = await api.get("machineconfig")
    assert invalid.value.code == "INVALID_ARGUMENT"
    lines = invalid.value.lines()
    assert len(lines) >= 3, lines
    assert any("machine.type" in line for line in lines)
    assert any("cluster.name" in line for line in lines)
    assert any("colour" in line for line in lines)
    assert config.resource.metadata.version == 1
    assert stored(configured) == before


async def test_a_config_for_another_cluster_is_refused(
    cluster: Cluster, configured: NodeProcess
) -> None:
    before = stored(configured)
    other = Cluster()
    async with cluster.client(configured) as api:
        with pytest.raises(ClientError) as refused:
            await api.apply_configuration(other.controlplane.to_yaml().encode())
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "another cluster" in str(refused.value)
    assert stored(configured) == before


async def test_a_dry_run_shows_the_diff_and_changes_nothing(
    cluster: Cluster, configured: NodeProcess
) -> None:
    before = stored(configured)
    async with cluster.client(configured) as api:
        (answer,) = await api.apply_configuration(
            changed(cluster.controlplane, hostname="dry-run-1"), dry_run=True
        )
        (config,) = await api.get("machineconfig")
    assert answer.mode == machine_pb2.NO_REBOOT
    assert "+    hostname: dry-run-1" in answer.diff
    assert answer.diff.startswith("--- current\n+++ new\n")
    assert config.resource.metadata.version == 1
    assert stored(configured) == before
    assert await hostname(cluster, configured) != "dry-run-1"


async def test_auto_applies_live_changes_without_a_reboot(
    cluster: Cluster, configured: NodeProcess
) -> None:
    status = await machine_status(cluster, configured)
    async with cluster.client(configured) as api:
        (answer,) = await api.apply_configuration(changed(cluster.controlplane, hostname="live-1"))
    assert answer.mode == machine_pb2.NO_REBOOT
    await eventually(lambda: hostname(cluster, configured), lambda name: name == "live-1")
    assert b"hostname: live-1" in stored(configured)
    after = await machine_status(cluster, configured)
    assert after.resource.metadata.created == status.resource.metadata.created  # same boot
    assert after.node == "live-1"  # answers are labelled with the configured hostname


async def test_changes_that_need_a_reboot(cluster: Cluster, configured: NodeProcess) -> None:
    config = changed(cluster.controlplane, certSANs=["127.0.0.1", "node.example.com"])
    async with cluster.client(configured) as api:
        with pytest.raises(ClientError) as refused:
            await api.apply_configuration(config, ApplyMode.NO_REBOOT)
        assert refused.value.code == "FAILED_PRECONDITION"
        assert "machine.certSANs" in str(refused.value)
        before = await machine_status(cluster, configured)
        (answer,) = await api.apply_configuration(config)
    assert answer.mode == machine_pb2.REBOOT
    await wait_rebooted(cluster, configured, before)
    assert b"node.example.com" in stored(configured)


async def test_try_mode_reverts_after_its_timeout(
    cluster: Cluster, configured: NodeProcess
) -> None:
    before = stored(configured)
    async with cluster.client(configured) as api:
        (answer,) = await api.apply_configuration(
            changed(cluster.controlplane, hostname="tried-1"), ApplyMode.TRY, try_timeout=2
        )
        assert answer.mode == machine_pb2.TRY
        assert await hostname(cluster, configured) == "tried-1"
        assert stored(configured) == before  # never stored while it is only tried
        with pytest.raises(ClientError) as pending:
            await api.apply_configuration(changed(cluster.controlplane, hostname="other"))
        assert pending.value.code == "FAILED_PRECONDITION"
    await eventually(lambda: hostname(cluster, configured), lambda name: name != "tried-1")
    assert stored(configured) == before


async def test_try_mode_stays_when_confirmed(cluster: Cluster, configured: NodeProcess) -> None:
    async with cluster.client(configured) as api:
        await api.apply_configuration(
            changed(cluster.controlplane, hostname="tried-2"), ApplyMode.TRY, try_timeout=1
        )
        await api.confirm_configuration()
        with pytest.raises(ClientError) as nothing:
            await api.confirm_configuration()
        assert nothing.value.code == "FAILED_PRECONDITION"
    await asyncio.sleep(1.5)  # past the try timeout: nothing reverts
    assert await hostname(cluster, configured) == "tried-2"
    assert b"hostname: tried-2" in stored(configured)


async def test_staged_mode_takes_effect_at_the_next_reboot(
    cluster: Cluster, configured: NodeProcess
) -> None:
    async with cluster.client(configured) as api:
        (answer,) = await api.apply_configuration(
            changed(cluster.controlplane, hostname="staged-1"), ApplyMode.STAGED
        )
        assert answer.mode == machine_pb2.STAGED
        assert await hostname(cluster, configured) != "staged-1"
        assert b"staged-1" in stored(configured, "config.staged.yaml")
        before = await machine_status(cluster, configured)
        await api.reboot()
    await wait_rebooted(cluster, configured, before)
    assert await hostname(cluster, configured) == "staged-1"
    assert b"hostname: staged-1" in stored(configured)
    assert not (configured.state_dir / "config.staged.yaml").exists()
