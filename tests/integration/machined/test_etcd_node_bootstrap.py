"""etcd on one real control-plane node: waiting, bootstrap with kilnctl, the etcd commands,
a snapshot, and a new cluster recovered from it on a fresh node."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from machined_cluster import ETCD_WAITING, eventually, machine_status, maintenance_version
from machined_etcd import (
    EtcdCluster,
    configure,
    etcd_client,
    kilnctl,
    members,
    next_address,
    wait_ready,
)

from kiln.machined.testing import NodeProcess
from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


async def test_one_node_from_bootstrap_to_snapshot_and_recovery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = NodeProcess(tmp_path / "cp-1", host=next_address())
    cluster = EtcdCluster(first.host)
    async with first:
        await configure(cluster, first, "cp-1")
        status = await machine_status(cluster, first)
        assert status.resource.spec.unmet_conditions == [ETCD_WAITING]
        with pytest.raises(ClientError) as refused:
            await members(cluster, first)
        assert refused.value.code == "FAILED_PRECONDITION"
        assert "etcd is not running on this node" in str(refused.value)

        assert await kilnctl(cluster, first, tmp_path, "bootstrap") == 0, capsys.readouterr().err
        assert "etcd cluster bootstrapped" in capsys.readouterr().out
        assert await kilnctl(cluster, first, tmp_path, "etcd", "members") == 0
        table = capsys.readouterr().out
        assert "cp-1" in table and f"https://{first.host}:2380" in table
        assert [m.hostname for m in await members(cluster, first)] == ["cp-1"]
        await wait_ready(cluster, first)
        assert await kilnctl(cluster, first, tmp_path, "get", "members") == 0
        assert "cp-1" in capsys.readouterr().out  # the EtcdMember resources

        assert await kilnctl(cluster, first, tmp_path, "bootstrap") == 1
        assert "etcd is already bootstrapped on this node" in capsys.readouterr().err
        async with cluster.client(first) as api:
            with pytest.raises(ClientError) as again:
                await api.bootstrap()
        assert again.value.code == "FAILED_PRECONDITION"

        await etcd_client(first).put("/kiln/test", "kept")
        snapshot = tmp_path / "backup" / "etcd.snapshot"
        snapshot.parent.mkdir()
        assert await kilnctl(cluster, first, tmp_path, "etcd", "snapshot", str(snapshot)) == 0
        assert "snapshot of" in capsys.readouterr().out
        assert snapshot.stat().st_size > 0
        assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
        assert [p.name for p in snapshot.parent.iterdir()] == ["etcd.snapshot"]

        assert await kilnctl(cluster, first, tmp_path, "etcd", "status") == 0
        assert "cp-1" in capsys.readouterr().out
        assert await kilnctl(cluster, first, tmp_path, "etcd", "defrag") == 0
        assert "defragmented" in capsys.readouterr().out
        assert await kilnctl(cluster, first, tmp_path, "etcd", "forfeit-leadership") == 1
        assert "only voting member" in capsys.readouterr().err
        assert await kilnctl(cluster, first, tmp_path, "services") == 0
        assert "healthy" in capsys.readouterr().out
        assert await kilnctl(cluster, first, tmp_path, "logs", "etcd", "--tail", "5") == 0
        assert capsys.readouterr().out.strip()

        # The only voting member cannot leave: a graceful reset is refused.
        assert await kilnctl(cluster, first, tmp_path, "reset") == 1
        assert "only voting member" in capsys.readouterr().err

    # A fresh node of the same cluster, the first one gone: recover from the snapshot.
    fresh = NodeProcess(tmp_path / "cp-new", host=next_address())
    async with fresh:
        await configure(cluster, fresh, "cp-new")
        recover = ["bootstrap", "--recover-from", str(snapshot)]
        assert await kilnctl(cluster, fresh, tmp_path, *recover) == 0, capsys.readouterr().err
        assert [m.hostname for m in await members(cluster, fresh)] == ["cp-new"]
        assert await etcd_client(fresh).get("/kiln/test") == b"kept"
        await wait_ready(cluster, fresh)

        assert await kilnctl(cluster, fresh, tmp_path, "reset", "--no-graceful") == 0
        await eventually(lambda: maintenance_version(fresh), bool)
        assert not (fresh.state_dir / "etcd").exists()


async def test_a_bootstrap_goes_on_when_its_caller_gives_up(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "cp-1", host=next_address())
    cluster = EtcdCluster(node.host)
    async with node:
        await configure(cluster, node, "cp-1")
        async with cluster.client(node) as api:
            with pytest.raises(ClientError) as gave_up:
                await api.bootstrap(timeout=0.05)
        assert gave_up.value.code == "DEADLINE_EXCEEDED", str(gave_up.value)
        found = await eventually(lambda: members(cluster, node), bool)
        assert [m.hostname for m in found] == ["cp-1"]
        await wait_ready(cluster, node)
