"""`kilnctl gen secrets` and `kilnctl gen config`, end to end through the CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln.ctl.main import run
from kiln.machinery.secrets import SecretsBundle


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    return err.strip()


def test_gen_secrets(tmp_path: Path) -> None:
    path = tmp_path / "out" / "secrets.yaml"
    assert run(["gen", "secrets", "-o", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bundle = SecretsBundle.load(path)
    assert bundle.os_ca.certificate.common_name == "kiln"
    assert [p.name for p in path.parent.iterdir()] == ["secrets.yaml"]


def test_gen_secrets_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["gen", "secrets"]) == 0
    SecretsBundle.load(tmp_path / "secrets.yaml")


def test_gen_secrets_does_not_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text("keep me")
    assert run(["gen", "secrets", "-o", str(path)]) == 1
    assert one_error(capsys) == f"error: {path} already exists (use --force to overwrite)"
    assert path.read_text() == "keep me"
    assert run(["gen", "secrets", "-o", str(path), "--force"]) == 0
    SecretsBundle.load(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_gen_secrets_into_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gen", "secrets", "-o", str(tmp_path), "--force"]) == 2
    assert "is a directory" in one_error(capsys)
