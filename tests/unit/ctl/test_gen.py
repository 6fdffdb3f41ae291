"""`kilnctl gen secrets` and `kilnctl gen config`, end to end through the CLI."""

from __future__ import annotations

import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from kiln.ctl.main import run
from kiln.machinery import kilnconfig
from kiln.machinery.config import MachineConfig, Mode, load_config_file, validate_for_mode
from kiln.machinery.secrets import Certificate, SecretsBundle

ENDPOINT = "https://10.5.0.2:6443"
OUTPUTS = ("controlplane.yaml", "worker.yaml", "kilnconfig")


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


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "secrets.yaml"
    path.write_text(SecretsBundle.generate().to_yaml())
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "out"
    args = ["gen", "config", "demo", ENDPOINT, "-o", str(out), "--install-image", "kiln:v1"]
    assert run(args) == 0
    return out


def load(out: Path) -> tuple[MachineConfig, MachineConfig]:
    return load_config_file(out / "controlplane.yaml"), load_config_file(out / "worker.yaml")


def test_gen_config_writes_private_files(generated: Path) -> None:
    assert sorted(p.name for p in generated.iterdir()) == sorted(OUTPUTS)
    for name in OUTPUTS:
        assert stat.S_IMODE((generated / name).stat().st_mode) == 0o600


def test_configs_load_and_validate(generated: Path) -> None:
    controlplane, worker = load(generated)
    assert controlplane.machine_config.machine.type == "controlplane"
    assert worker.machine_config.machine.type == "worker"
    for config in (controlplane, worker):
        cluster = config.machine_config.cluster
        assert cluster.name == "demo"
        assert cluster.control_plane.endpoint == ENDPOINT
        assert validate_for_mode(config, Mode.METAL) == []
        assert validate_for_mode(config, Mode.CLOUD) == []
    assert controlplane.machine_config.machine.cert_sans == ["10.5.0.2"]


def test_worker_carries_no_private_keys(generated: Path) -> None:
    controlplane, worker = load(generated)
    machine, cluster = worker.machine_config.machine, worker.machine_config.cluster
    assert machine.ca.key is None
    assert cluster.ca.key is None
    assert cluster.aggregator_ca is None
    assert cluster.etcd is None
    assert cluster.service_account is None
    assert cluster.secretbox_encryption_secret is None
    text = (generated / "worker.yaml").read_text()
    assert "key:" not in text
    assert "secretbox" not in text
    # the controlplane holds every key
    cp = controlplane.machine_config
    assert cp.machine.ca.key and cp.cluster.ca.key and cp.cluster.service_account
    assert cp.cluster.etcd and cp.cluster.etcd.ca.key
    assert cp.cluster.aggregator_ca and cp.cluster.aggregator_ca.key
    # both trust the same CAs and share the join secrets
    assert machine.ca.crt == cp.machine.ca.crt
    assert cluster.ca.crt == cp.cluster.ca.crt
    assert cluster.token == cp.cluster.token
    assert machine.token == cp.machine.token


def test_kilnconfig_holds_an_admin_certificate_from_the_os_ca(
    generated: Path, tmp_path: Path
) -> None:
    config = kilnconfig.load(generated / "kilnconfig")
    name, context = config.current()
    assert name == "demo"
    assert context.endpoints == ["10.5.0.2"]
    crt = Certificate.from_b64(context.crt)
    assert crt.organizations == ["os:admin"]
    controlplane, _ = load(generated)
    os_ca = Certificate.from_b64(controlplane.machine_config.machine.ca.crt)
    assert context.ca == controlplane.machine_config.machine.ca.crt
    crt.x509().verify_directly_issued_by(os_ca.x509())
    (tmp_path / "ca.pem").write_bytes(os_ca.pem)
    (tmp_path / "admin.pem").write_bytes(crt.pem)
    argv = ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "sslclient"]
    result = subprocess.run(
        [*argv, str(tmp_path / "admin.pem")],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    remaining = crt.not_after - datetime.now(UTC)
    assert timedelta(days=364) < remaining <= timedelta(days=365)


def test_existing_files_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "worker.yaml").write_text("mine")
    assert run(["gen", "config", "demo", ENDPOINT, "-o", str(tmp_path)]) == 1
    worker = tmp_path / "worker.yaml"
    assert one_error(capsys) == f"error: {worker} already exists (use --force to overwrite)"
    assert [p.name for p in tmp_path.iterdir()] == ["worker.yaml"]
    assert worker.read_text() == "mine"
    assert run(["gen", "config", "demo", ENDPOINT, "-o", str(tmp_path), "--force"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS)
    assert stat.S_IMODE(worker.stat().st_mode) == 0o600
    load(tmp_path)


def test_with_secrets_reuses_the_cas(secrets_file: Path, tmp_path: Path) -> None:
    args = ["gen", "config", "demo", ENDPOINT, "--with-secrets", str(secrets_file)]
    assert run([*args, "-o", str(tmp_path)]) == 0
    bundle = SecretsBundle.load(secrets_file)
    controlplane, worker = load(tmp_path)
    cp = controlplane.machine_config
    assert cp.machine.ca.crt == bundle.certs.os.crt
    assert cp.machine.ca.key == bundle.certs.os.key
    assert cp.cluster.ca.crt == bundle.certs.k8s.crt
    assert cp.cluster.etcd and cp.cluster.etcd.ca.crt == bundle.certs.etcd.crt
    assert cp.cluster.id == bundle.cluster.id
    assert cp.cluster.token == bundle.secrets.bootstrap_token
    assert worker.machine_config.machine.token == bundle.machine_token
    context = kilnconfig.load(tmp_path / "kilnconfig").current()[1]
    Certificate.from_b64(context.crt).x509().verify_directly_issued_by(
        bundle.os_ca.certificate.x509()
    )


def test_options_reach_the_configs(tmp_path: Path) -> None:
    args = ["gen", "config", "demo", "https://[fd00::2]:6443", "-o", str(tmp_path)]
    args += ["--kubernetes-version", "1.35.2", "--install-disk", "/dev/vda"]
    args += ["--install-image", "registry.example.com/kiln/installer:v0.1.0"]
    assert run(args) == 0
    controlplane, worker = load(tmp_path)
    for config in (controlplane, worker):
        machine, cluster = config.machine_config.machine, config.machine_config.cluster
        assert cluster.kubernetes.version == "v1.35.2"
        assert machine.install.disk == "/dev/vda"
        assert machine.install.image == "registry.example.com/kiln/installer:v0.1.0"
    assert controlplane.machine_config.machine.cert_sans == ["fd00::2"]
    assert kilnconfig.load(tmp_path / "kilnconfig").current()[1].endpoints == ["fd00::2"]


def test_patches_apply_in_order_and_to_their_machine_type(tmp_path: Path) -> None:
    patch_file = tmp_path / "common.yaml"
    patch_file.write_text("machine:\n  network:\n    hostname: common\n")
    out = tmp_path / "out"
    args = ["gen", "config", "demo", ENDPOINT, "-o", str(out)]
    args += ["--config-patch", f"@{patch_file}"]
    args += ["--config-patch", '[{"op": "add", "path": "/machine/sysctls", "value": {"a.b": "1"}}]']
    args += [
        "--config-patch-control-plane",
        "cluster: {inlineManifests: [{name: cp, contents: x}]}",
    ]
    args += ["--config-patch-worker", "machine: {network: {hostname: worker-1}}"]
    assert run(args) == 0
    controlplane, worker = load(out)
    cp, wk = controlplane.machine_config, worker.machine_config
    assert cp.machine.network.hostname == "common"
    assert wk.machine.network.hostname == "worker-1"  # its own patch came after the common one
    assert cp.machine.sysctls == wk.machine.sysctls == {"a.b": "1"}
    assert [m.name for m in cp.cluster.inline_manifests] == ["cp"]
    assert wk.cluster.inline_manifests == []
    assert "inlineManifests" not in (out / "worker.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["demo", "10.5.0.2"],
            "ENDPOINT: '10.5.0.2' is not a URL (did you mean https://10.5.0.2:6443?)",
        ),
        (["demo", "http://10.5.0.2:6443"], "ENDPOINT: 'http://10.5.0.2:6443' is not an https://"),
        (["Bad_Name", ENDPOINT], "generated controlplane config: document 1 (MachineConfig): "),
        (
            [*("demo", ENDPOINT), "--kubernetes-version", "latest"],
            "generated controlplane config: document 1 (MachineConfig): "
            "cluster.kubernetes.version: 'latest' is not a Kubernetes version",
        ),
        ([*("demo", ENDPOINT), "--config-patch", "@missing.yaml"], "missing.yaml: No such file"),
        ([*("demo", ENDPOINT), "--config-patch", "- 1\n- [2"], "--config-patch 1: "),
        (
            [*("demo", ENDPOINT), "--config-patch-worker", "cluster: {ca: {key: abc}}"],
            "generated worker config (after patches): document 1 (MachineConfig): cluster.ca.key:",
        ),
        (
            [*("demo", ENDPOINT), "--with-secrets", "missing.yaml"],
            "missing.yaml: cannot read: No such file or directory",
        ),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(["gen", "config", *args, "-o", str(out)]) == 1
    assert one_error(capsys).startswith(f"error: {message}")
    assert not out.exists() or list(out.iterdir()) == []


def test_tampered_secrets_are_refused(
    secrets_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(secrets_file.read_text())
    data["certs"]["etcd"]["key"] = data["certs"]["k8s"]["key"]
    bad = tmp_path / "secrets.yaml"
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert run(["gen", "config", "demo", ENDPOINT, "--with-secrets", str(bad), "-o", str(out)]) == 1
    assert one_error(capsys) == f"error: {bad}: certs.etcd key does not match its certificate"
    assert not out.exists()
