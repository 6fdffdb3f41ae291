"""A snapshot streams out of a running cluster; a new single-member cluster recovers from it
with every key."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from etcd_nodes import MakeNode

from kiln.machined.etcd import (
    EtcdStateError,
    bootstrap_new_cluster,
    join_existing_cluster,
    recover_from_snapshot,
    snapshot,
)

pytestmark = pytest.mark.integration


async def test_snapshot_then_recover_a_new_cluster_that_keeps_the_keys(
    make_node: MakeNode, tmp_path: Path
) -> None:
    old = await make_node("old")
    await bootstrap_new_cluster(old.member, old.runner)
    client = old.client()
    for index in range(5):
        await client.put(f"/registry/things/{index}", f"value {index}")
    old_cluster_id = (await client.status()).status.header.cluster_id

    work_dir = tmp_path / "work"
    work_dir.mkdir()
    saved = tmp_path / "saved.db"
    async with contextlib.aclosing(snapshot(client, work_dir=work_dir, chunk_size=4096)) as chunks:
        with saved.open("wb") as out:
            count = 0
            async for chunk in chunks:
                assert 0 < len(chunk) <= 4096
                out.write(chunk)
                count += 1
    assert count > 1 and saved.stat().st_size > 0
    assert list(work_dir.iterdir()) == []

    new = await make_node("new")
    await recover_from_snapshot(saved, new.member, new.runner, etcdutl=new.binaries.etcdutl)

    recovered = new.client()
    assert await recovered.get("/registry/things/4") == b"value 4"
    members = await recovered.member_list()
    assert [(m.name, m.peer_urls) for m in members] == [("new", (new.member.peer_url,))]
    assert (await recovered.status()).status.header.cluster_id != old_cluster_id
    await recovered.put("after", "recovery")

    # The recovered cluster takes members like any other.
    joiner = await make_node("joiner")
    await join_existing_cluster(recovered, joiner.member, joiner.runner)
    assert await joiner.client().get("/registry/things/0") == b"value 0"

    with pytest.raises(EtcdStateError, match="already holds a member's data"):
        await recover_from_snapshot(saved, new.member, new.runner, etcdutl=new.binaries.etcdutl)


async def test_a_stream_closed_early_leaves_no_temporary_snapshot(
    make_node: MakeNode, tmp_path: Path
) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    stream = snapshot(node.client(), work_dir=work_dir, chunk_size=1024)
    async with contextlib.aclosing(stream) as chunks:
        async for _ in chunks:
            assert len(list(work_dir.iterdir())) == 1
            break
    assert list(work_dir.iterdir()) == []
