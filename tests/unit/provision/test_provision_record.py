"""The cluster record (cluster.json) and the cluster's kilnconfig context."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln.machinery import kilnconfig
from kiln.machinery.kilnconfig import Context, Kilnconfig
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle
from kiln.provision.contexts import add_context, remove_context
from kiln.provision.errors import ClusterNotFoundError, ProvisionError
from kiln.provision.record import ClusterRecord, NodeRecord, load_record
from kiln.provision.request import NodeRole


@pytest.fixture(scope="module")
def contexts() -> tuple[Context, Context]:
    ours, theirs = SecretsBundle.generate(), SecretsBundle.generate()
    return (
        kilnconfig.issue_context(ours.os_ca, Role.ADMIN, endpoints=["127.66.0.11"]),
        kilnconfig.issue_context(theirs.os_ca, Role.ADMIN, endpoints=["10.5.0.2"]),
    )


def test_a_record_round_trips_through_its_private_file(tmp_path: Path) -> None:
    record = ClusterRecord(name="demo", state_dir=str(tmp_path))
    record.nodes = [
        NodeRecord(
            name="demo-controlplane-1",
            role=NodeRole.CONTROLPLANE,
            address="127.66.0.11",
            pid=42,
            argv=["x"],
            start_time=7,
        )
    ]
    record.save()
    assert stat.S_IMODE((tmp_path / "cluster.json").stat().st_mode) == 0o600
    loaded = load_record(tmp_path)
    assert loaded == record
    assert loaded.node("demo-controlplane-1").endpoint == "127.66.0.11"
    assert loaded.of_role(NodeRole.WORKER) == []


def test_a_missing_or_broken_record(tmp_path: Path) -> None:
    with pytest.raises(ClusterNotFoundError):
        load_record(tmp_path)
    (tmp_path / "cluster.json").write_text("{}")
    with pytest.raises(ProvisionError, match="not a cluster record"):
        load_record(tmp_path)


def test_the_context_is_added_current_and_removed_with_the_previous_one_restored(
    tmp_path: Path, contexts: tuple[Context, Context]
) -> None:
    ours, theirs = contexts
    path = tmp_path / "config"
    kilnconfig.save(Kilnconfig().add("prod", theirs), path)
    record = ClusterRecord(name="demo", state_dir=str(tmp_path))
    assert add_context(record, path, ours) == "demo"
    config = kilnconfig.load(path)
    assert config.context == "demo" and set(config.contexts) == {"prod", "demo"}
    assert record.previous_context == "prod"
    assert add_context(record, path, ours) == "demo"  # again: refreshed, not duplicated
    assert set(kilnconfig.load(path).contexts) == {"prod", "demo"}

    assert remove_context(record) == f"removed context demo from {path}"
    config = kilnconfig.load(path)
    assert config.context == "prod" and set(config.contexts) == {"prod"}
    assert remove_context(record) == f"context demo is not in {path} any more"


def test_a_clashing_context_name_gets_a_suffix_and_another_clusters_context_is_kept(
    tmp_path: Path, contexts: tuple[Context, Context]
) -> None:
    ours, theirs = contexts
    path = tmp_path / "config"
    kilnconfig.save(Kilnconfig().add("demo", theirs), path)
    record = ClusterRecord(name="demo", state_dir=str(tmp_path))
    assert add_context(record, path, ours) == "demo-1"
    record.context = "demo"  # as if the name now held someone else's context
    assert "belongs to another cluster" in remove_context(record)
    assert set(kilnconfig.load(path).contexts) == {"demo", "demo-1"}
