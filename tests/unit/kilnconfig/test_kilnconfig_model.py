"""Kilnconfig contexts: add, use, endpoints, nodes, remove, merge with renames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiln.machinery import kilnconfig
from kiln.machinery.errors import KilnconfigError
from kiln.machinery.kilnconfig import Context, Kilnconfig, Rename
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle


@pytest.fixture(scope="module")
def bundle() -> SecretsBundle:
    return SecretsBundle.generate()


@pytest.fixture(scope="module")
def context(bundle: SecretsBundle) -> Context:
    return kilnconfig.issue_context(bundle.os_ca, Role.ADMIN, endpoints=["10.5.0.2"])


@pytest.fixture(scope="module")
def other(bundle: SecretsBundle) -> Context:
    return kilnconfig.issue_context(bundle.os_ca, Role.READER, endpoints=["10.5.0.9"])


def test_add_makes_current(context: Context) -> None:
    config = Kilnconfig().with_source("kc").add("prod", context)
    assert config.context == "prod"
    assert config.current() == ("prod", context)
    assert config.source == "kc"


def test_add_existing_needs_replace(context: Context, other: Context) -> None:
    config = Kilnconfig().add("prod", context)
    with pytest.raises(KilnconfigError, match="context 'prod' already exists"):
        config.add("prod", other)
    assert config.add("prod", other, replace=True).contexts["prod"] == other


def test_use_and_unknown_context(context: Context, other: Context) -> None:
    config = Kilnconfig().with_source("kc").add("a", context).add("b", other)
    assert config.use("a").context == "a"
    with pytest.raises(KilnconfigError, match=r"^kc: context 'c' not found \(known: a, b\)$"):
        config.use("c")


def test_no_current_context() -> None:
    with pytest.raises(KilnconfigError, match=r"^kc: has no contexts$"):
        Kilnconfig().with_source("kc").current()


def test_set_endpoints_and_nodes(context: Context, other: Context) -> None:
    config = Kilnconfig().add("a", context).add("b", other)
    changed = config.with_endpoints(["cp.example.com", "10.0.0.1:50001", "[fd00::1]:50000"])
    changed = changed.with_nodes(["10.0.0.5", "fd00::5"], name="a")
    assert changed.contexts["b"].endpoints == [
        "cp.example.com",
        "10.0.0.1:50001",
        "[fd00::1]:50000",
    ]
    assert changed.contexts["a"].nodes == ["10.0.0.5", "fd00::5"]
    assert changed.contexts["a"].endpoints == ["10.5.0.2"]
    assert config.contexts["b"].endpoints == ["10.5.0.9"]  # the original is unchanged


@pytest.mark.parametrize("bad", ["http://x", "a b", "10.0.0.1:0", "host:99999", "[::1", "::1]:5"])
def test_bad_endpoint_names_context(context: Context, bad: str) -> None:
    config = Kilnconfig().with_source("kc").add("a", context)
    with pytest.raises(KilnconfigError, match=r"^kc: context 'a': .* is not an endpoint"):
        config.with_endpoints([bad])


def test_bad_node(context: Context) -> None:
    config = Kilnconfig().add("a", context)
    with pytest.raises(KilnconfigError, match="is not a hostname or IP address"):
        config.with_nodes(["10.0.0.1:50000"])


def test_bad_context_name(context: Context) -> None:
    with pytest.raises(KilnconfigError, match="is not a context name"):
        Kilnconfig().add("-x", context)


def test_remove(context: Context, other: Context) -> None:
    config = Kilnconfig().add("a", context).add("b", other)
    assert config.remove("b").context is None
    assert config.remove("a").context == "b"
    assert list(config.remove("a").contexts) == ["b"]


def test_merge_renames_on_clash(context: Context, other: Context) -> None:
    mine = Kilnconfig().add("prod", context).add("prod-1", context).use("prod")
    theirs = Kilnconfig().add("dev", context).add("prod", other)
    merged, renames = mine.merge(theirs)
    assert renames == [Rename("prod", "prod-2")]
    assert merged.contexts["prod-2"] == other
    assert merged.contexts["dev"] == context
    assert merged.context == "prod-2"  # the merged file's current context, renamed


def test_merge_skips_identical_context(context: Context) -> None:
    mine = Kilnconfig().add("prod", context)
    merged, renames = mine.merge(mine)
    assert renames == []
    assert merged == mine


def test_merge_without_current_keeps_ours(context: Context, other: Context) -> None:
    mine = Kilnconfig().add("prod", context)
    theirs = Kilnconfig(contexts={"dev": other})
    merged, _ = mine.merge(theirs)
    assert merged.context == "prod"


def test_describe(context: Context, bundle: SecretsBundle) -> None:
    info = kilnconfig.describe(Kilnconfig().add("prod", context))
    assert info.name == "prod"
    assert info.current
    assert info.roles == ("os:admin",)
    assert info.common_name == "admin"
    assert info.endpoints == ("10.5.0.2",)
    assert info.ca_fingerprint == bundle.os_ca.certificate.fingerprint()
    assert timedelta(days=364) < info.expires - datetime.now(UTC) <= timedelta(days=365)


def test_split_endpoint() -> None:
    assert kilnconfig.split_endpoint("10.0.0.1") == ("10.0.0.1", 50000)
    assert kilnconfig.split_endpoint("cp:6000") == ("cp", 6000)
    assert kilnconfig.split_endpoint("fd00::1") == ("fd00::1", 50000)
    assert kilnconfig.split_endpoint("[fd00::1]:1") == ("fd00::1", 1)
    assert kilnconfig.split_endpoint("[fd00::1]") == ("fd00::1", 50000)
