"""Kilnconfig files: path resolution, mode 0600 atomic writes, and clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from kiln.machinery import kilnconfig
from kiln.machinery.errors import KilnconfigError
from kiln.machinery.kilnconfig import Kilnconfig
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle


@pytest.fixture(scope="module")
def config() -> Kilnconfig:
    bundle = SecretsBundle.generate()
    context = kilnconfig.issue_context(bundle.os_ca, Role.ADMIN, endpoints=["10.5.0.2"])
    return Kilnconfig().add("prod", context)


def test_default_path_order(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    env = {"KILNCONFIG": str(tmp_path / "env")}
    assert kilnconfig.default_path(explicit, env, tmp_path) == explicit
    assert kilnconfig.default_path(None, env, tmp_path) == tmp_path / "env"
    assert kilnconfig.default_path(None, {}, tmp_path) == tmp_path / ".kiln" / "config"
    assert kilnconfig.default_path(None, {"KILNCONFIG": ""}, tmp_path) == tmp_path / ".kiln/config"


def test_save_and_load(config: Kilnconfig, tmp_path: Path) -> None:
    path = tmp_path / "home" / ".kiln" / "config"
    kilnconfig.save(config, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = kilnconfig.load(path)
    assert loaded == config
    assert loaded.source == str(path)
    data = yaml.safe_load(path.read_text())
    assert list(data) == ["context", "contexts"]
    assert list(data["contexts"]["prod"]) == ["endpoints", "nodes", "ca", "crt", "key"]
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_save_replaces_with_private_mode(config: Kilnconfig, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("old")
    path.chmod(0o644)
    kilnconfig.save(config, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    with pytest.raises(KilnconfigError, match=r"config: no kilnconfig here$"):
        kilnconfig.load(path)
    empty = kilnconfig.load(path, missing_ok=True)
    assert empty.contexts == {}
    assert empty.source == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("contexts: [", r"line 1, column 12: expected the node content"),
        ("- a", "expected a mapping"),
        ("context: nope\ncontexts: {}\n", "current context 'nope' is not among the contexts"),
        ("contexts: {a: {ca: x}}", r"contexts\.a\.ca: .*PEM"),
        ("contexts: {a: {nodes: [n1]}}", r"contexts\.a: .*missing ca, crt, key .*or a hub"),
        ("contexts: {}\nextra: 1", "extra: unknown key"),
    ],
)
def test_invalid_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(KilnconfigError, match=rf"^{path}: .*{message}"):
        kilnconfig.load(path)


def test_bad_endpoint_in_file_names_its_path(config: Kilnconfig, tmp_path: Path) -> None:
    data = yaml.safe_load(kilnconfig.dump(config))
    data["contexts"]["prod"]["endpoints"] = ["ok", "not ok"]
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        KilnconfigError, match=r"contexts\.prod\.endpoints\[1\]: 'not ok' is not an"
    ):
        kilnconfig.load(path)


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    assert kilnconfig.load(path) == Kilnconfig()
