"""`kilnctl config`: contexts in the kilnconfig file, end to end through the CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln.ctl.main import run
from kiln.machinery import kilnconfig
from kiln.machinery.secrets import Certificate, SecretsBundle


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "secrets.yaml"
    path.write_text(SecretsBundle.generate().to_yaml())
    return path


@pytest.fixture
def kc(tmp_path: Path) -> Path:
    return tmp_path / "kilnconfig"


def kilnctl(kc: Path, *args: str) -> int:
    return run(["--kilnconfig", str(kc), *args])


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    return err.strip()


def test_new_adds_a_context_with_a_role(
    kc: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["config", "new", "prod", "--with-secrets", str(secrets_file), "-e", "10.5.0.2"]
    assert kilnctl(kc, *args, "--role", "operator", "-n", "10.5.0.3") == 0
    assert stat.S_IMODE(kc.stat().st_mode) == 0o600
    config = kilnconfig.load(kc)
    name, context = config.current()
    assert name == "prod"
    assert context.endpoints == ["10.5.0.2"]
    assert context.nodes == ["10.5.0.3"]
    crt = Certificate.from_b64(context.crt)
    assert crt.organizations == ["os:operator"]
    os_ca = SecretsBundle.load(secrets_file).os_ca.certificate
    crt.x509().verify_directly_issued_by(os_ca.x509())
    assert "added context 'prod' (os:operator)" in capsys.readouterr().err


def test_new_refuses_an_existing_name_without_force(
    kc: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["config", "new", "prod", "--with-secrets", str(secrets_file)]
    assert kilnctl(kc, *args) == 0
    before = kc.read_text()
    capsys.readouterr()
    assert kilnctl(kc, *args) == 1
    assert one_error(capsys) == f"error: {kc}: context 'prod' already exists"
    assert kc.read_text() == before
    assert kilnctl(kc, *args, "--force") == 0


def test_kilnconfig_from_environment(
    tmp_path: Path, secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env"
    monkeypatch.setenv("KILNCONFIG", str(path))
    assert run(["config", "new", "prod", "--with-secrets", str(secrets_file)]) == 0
    assert kilnconfig.load(path).context == "prod"


@pytest.fixture
def two_contexts(kc: Path, secrets_file: Path) -> Path:
    for name in ("a", "b"):
        assert kilnctl(kc, "config", "new", name, "--with-secrets", str(secrets_file)) == 0
    return kc


def test_use_endpoint_node(two_contexts: Path) -> None:
    kc = two_contexts
    assert kilnctl(kc, "config", "use", "a") == 0
    assert kilnctl(kc, "config", "endpoint", "10.0.0.1", "cp.example.com:50001") == 0
    assert kilnctl(kc, "config", "node", "10.0.0.5") == 0
    assert kilnctl(kc, "--context", "b", "config", "node", "10.0.0.9") == 0
    config = kilnconfig.load(kc)
    assert config.context == "a"
    assert config.contexts["a"].endpoints == ["10.0.0.1", "cp.example.com:50001"]
    assert config.contexts["a"].nodes == ["10.0.0.5"]
    assert config.contexts["b"].nodes == ["10.0.0.9"]
    assert kilnctl(kc, "config", "endpoint") == 0
    assert kilnconfig.load(kc).contexts["a"].endpoints == []


def test_info(two_contexts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kc = two_contexts
    assert kilnctl(kc, "config", "endpoint", "10.0.0.1") == 0
    capsys.readouterr()
    assert kilnctl(kc, "config", "info") == 0
    out = capsys.readouterr().out
    assert "Context:        b\n" in out
    assert "Endpoints:      10.0.0.1\n" in out
    assert "Nodes:          not defined\n" in out
    assert "Roles:          os:admin\n" in out
    assert "(in 365 days)" in out
    assert "CA fingerprint: SHA256 " in out


def test_contexts_table(two_contexts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert kilnctl(two_contexts, "config", "contexts") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CURRENT", "NAME", "ENDPOINTS", "NODES", "ROLES", "EXPIRES"]
    assert lines[1].split()[0] == "a"
    assert lines[2].split()[:2] == ["*", "b"]


def test_merge_renames_on_clash(
    two_contexts: Path, tmp_path: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    assert kilnctl(other, "config", "new", "a", "--with-secrets", str(secrets_file)) == 0
    capsys.readouterr()
    assert kilnctl(two_contexts, "config", "merge", str(other)) == 0
    assert "renamed context 'a' to 'a-1'" in capsys.readouterr().err
    config = kilnconfig.load(two_contexts)
    assert sorted(config.contexts) == ["a", "a-1", "b"]
    assert config.context == "a-1"
    assert config.contexts["a-1"] == kilnconfig.load(other).contexts["a"]


def test_remove(two_contexts: Path) -> None:
    assert kilnctl(two_contexts, "config", "remove", "a") == 0
    assert list(kilnconfig.load(two_contexts).contexts) == ["b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["config", "use", "c"], "context 'c' not found (known: a, b)"),
        (["--context", "z", "config", "info"], "context 'z' not found (known: a, b)"),
        (["config", "endpoint", "http://x"], "context 'b': 'http://x' is not an endpoint"),
        (["config", "node", "a b"], "context 'b': 'a b' is not a hostname or IP address"),
        (["config", "remove", "c"], "context 'c' not found"),
    ],
)
def test_errors_are_one_line(
    two_contexts: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = two_contexts.read_text()
    capsys.readouterr()
    assert kilnctl(two_contexts, *args) == 1
    assert one_error(capsys).startswith(f"error: {two_contexts}: {message}")
    assert two_contexts.read_text() == before


def test_missing_kilnconfig(kc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kilnctl(kc, "config", "info") == 1
    assert one_error(capsys) == f"error: {kc}: no kilnconfig here"


def test_bad_secrets_file(kc: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "secrets.yaml"
    bad.write_text("version: v1alpha1\n")
    assert kilnctl(kc, "config", "new", "x", "--with-secrets", str(bad)) == 1
    assert one_error(capsys) == f"error: {bad}: cluster: required (and 3 more)"
    assert not kc.exists()


def test_unknown_role_is_a_usage_error(
    kc: Path, secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        kilnctl(kc, "config", "new", "x", "--with-secrets", str(secrets_file), "--role", "root")
        == 2
    )
    assert "unknown role 'root'" in one_error(capsys)
