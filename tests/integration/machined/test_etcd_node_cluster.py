"""etcd across three real control-plane nodes: one bootstrapped, the others joining by
themselves; a node killed and restarted, one reset gracefully and configured again, one dead
for good and removed.

The tests share one cluster (made once, for speed) and run in the order written; each starts
from the three members the one before it left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from machined_cluster import eventually, maintenance_version
from machined_etcd import (
    EtcdCluster,
    configure,
    etcd_client,
    kill_with_etcd,
    kilnctl,
    members,
    next_address,
    put,
    wait_members,
    wait_ready,
)

from kiln.machined.testing import NodeProcess
from kiln.machinery.client import ClientError

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

NAMES = ["cp-1", "cp-2", "cp-3"]
ALL = set(NAMES)


class Three:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes = [NodeProcess(root / name, host=next_address()) for name in NAMES]
        self.cluster = EtcdCluster(self.nodes[0].host)

    def __getitem__(self, index: int) -> NodeProcess:
        return self.nodes[index]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def three(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Three]:
    """cp-1 bootstrapped; cp-2 and cp-3 configured before it and joined by themselves."""
    made = Three(tmp_path_factory.mktemp("etcd-cluster"))
    try:
        for node, name in zip(made.nodes, NAMES, strict=True):
            await node.start()
            await configure(made.cluster, node, name)
        async with made.cluster.client(made[0]) as api:
            await api.bootstrap()
        yield made
    finally:
        for node in reversed(made.nodes):  # one by one, so that each etcd stops at once
            if node.pid is not None:
                await node.__aexit__(None, None, None)


async def test_the_other_nodes_join_by_themselves(
    three: Three, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = three.cluster
    for node in three.nodes:
        found = await wait_members(cluster, node, ALL)
        assert all(m.client_urls for m in found)
    for node in three.nodes:
        await wait_ready(cluster, node)
    await etcd_client(three[0]).put("/kiln/written-first", "on cp-1")
    assert await etcd_client(three[2]).get("/kiln/written-first") == b"on cp-1"

    every = ",".join(node.endpoint for node in three.nodes)  # through the first node
    assert await kilnctl(cluster, three[0], tmp_path, "-n", every, "etcd", "members") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    labelled = [row for row in rows if row and row[0] in every.split(",")]
    assert sorted((row[0], row[2]) for row in labelled) == sorted(
        (node.endpoint, name) for node in three.nodes for name in NAMES
    )


@pytest.mark.parametrize("victim", [2, 0], ids=["a-joined-node", "the-endpoint-node"])
async def test_a_node_killed_with_its_etcd_comes_back_with_its_data(
    three: Three, victim: int
) -> None:
    cluster, killed = three.cluster, three[victim]
    other = three[(victim + 1) % 3]
    await wait_members(cluster, other, ALL)
    await put(killed, f"/kiln/before-kill-{victim}", "acknowledged")

    await kill_with_etcd(cluster, killed)
    await put(other, f"/kiln/while-down-{victim}", "written")  # once a new leader is elected
    await killed.start()

    await wait_ready(cluster, killed, within=60.0)
    assert await etcd_client(killed).get(f"/kiln/before-kill-{victim}") == b"acknowledged"
    assert await etcd_client(killed).get(f"/kiln/while-down-{victim}") == b"written"
    await wait_members(cluster, other, ALL)
    assert "wiping its old data" not in killed.output()


async def test_a_graceful_reset_leaves_and_a_new_config_joins_again(
    three: Three, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, second = three.cluster, three[1]
    await wait_members(cluster, three[0], ALL)

    assert await kilnctl(cluster, second, tmp_path, "reset") == 0, capsys.readouterr().err
    await eventually(lambda: maintenance_version(second), bool, within=60.0)
    await wait_members(cluster, three[0], {"cp-1", "cp-3"})
    assert not (second.state_dir / "etcd").exists()

    await configure(cluster, second, "cp-2")
    await wait_members(cluster, three[0], ALL)
    await wait_ready(cluster, second)
    assert await etcd_client(second).get("/kiln/written-first") == b"on cp-1"


async def test_a_dead_member_is_removed(
    three: Three, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, first, third = three.cluster, three[0], three[2]
    await wait_members(cluster, first, ALL)

    async with cluster.client(first) as api:
        with pytest.raises(ClientError) as own:
            await api.etcd_remove_member("cp-1")
    assert own.value.code == "FAILED_PRECONDITION" and "leave" in str(own.value)

    await kill_with_etcd(cluster, third)  # gone for good
    command = ["etcd", "remove-member", "cp-3"]
    assert await kilnctl(cluster, first, tmp_path, *command) == 0, capsys.readouterr().err
    assert sorted(m.hostname for m in await members(cluster, first)) == ["cp-1", "cp-2"]

    async def published() -> list[str]:
        async with cluster.client(first) as api:
            return sorted(found.resource.spec.hostname for found in await api.get("members"))

    await eventually(published, lambda names: names == ["cp-1", "cp-2"])
    assert await etcd_client(three[1]).get("/kiln/while-down-2") == b"written"
