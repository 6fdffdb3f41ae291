"""The control-plane services' command lines: every port on the node's address, the version's
flags from the compatibility table, etcd over mutual TLS, secrets encrypted with the config's
secretbox key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kiln.machined.etcd import EtcdCertPaths, EtcdMemberConfig
from kiln.machined.kubernetes.artifacts import ArtifactCache
from kiln.machined.kubernetes.controlplane import (
    ControlPlaneInputs,
    control_plane_specs,
    write_config_files,
)
from kiln.machined.kubernetes.pki import write_control_plane_files
from kiln.machined.kubernetes.versions import compatibility
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import SecretsBundle

ADDRESS = "127.111.0.7"


def inputs(tmp_path: Path, version: str) -> ControlPlaneInputs:
    document = generate_configs(
        "demo", f"https://{ADDRESS}:6443", SecretsBundle.generate()
    ).controlplane.machine_config
    paths = write_control_plane_files(document, "cp-1", ADDRESS, ADDRESS, tmp_path / "pki")
    write_config_files(document, tmp_path / "config")
    etcd = EtcdMemberConfig(
        "cp-1", tmp_path / "etcd", ADDRESS, EtcdCertPaths(tmp_path / "etcd-pki")
    )
    binaries = {
        name: tmp_path / name
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    }
    return ControlPlaneInputs(
        document,
        ADDRESS,
        compatibility(version),
        binaries,
        paths,
        etcd,
        tmp_path / "config",
        ArtifactCache(tmp_path / "cache"),
    )


def flags(argv: tuple[str, ...] | list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in argv[1:])


@pytest.mark.parametrize("version", ["v1.20.2", "v1.36.0"])
def test_every_port_is_bound_to_the_node_address(tmp_path: Path, version: str) -> None:
    specs = {spec.name: spec for spec in control_plane_specs(inputs(tmp_path, version))}
    for spec in specs.values():
        assert flags(spec.argv)["bind-address"] == ADDRESS
    apiserver = flags(specs["kube-apiserver"].argv)
    assert apiserver["advertise-address"] == ADDRESS
    assert apiserver["etcd-servers"] == f"https://{ADDRESS}:2379"
    assert apiserver["etcd-certfile"].endswith("client.crt")
    assert apiserver["authorization-mode"] == "Node,RBAC"
    legacy = version == "v1.20.2"
    assert ("insecure-port" in apiserver) is legacy
    assert ("port" in flags(specs["kube-scheduler"].argv)) is legacy
    assert specs["kube-apiserver"].depends_on == ("etcd",)
    assert specs["kube-scheduler"].depends_on == ("kube-apiserver",)


def test_controller_manager_allocates_node_cidrs_and_signs_csrs(tmp_path: Path) -> None:
    (spec,) = [
        s for s in control_plane_specs(inputs(tmp_path, "v1.36.0")) if "controller" in s.name
    ]
    manager = flags(spec.argv)
    assert manager["allocate-node-cidrs"] == "true"
    assert manager["cluster-cidr"] == "10.244.0.0/16"
    assert Path(manager["cluster-signing-key-file"]).is_file()


def test_secrets_are_encrypted_with_the_config_key(tmp_path: Path) -> None:
    made = inputs(tmp_path, "v1.36.0")
    encryption = yaml.safe_load((tmp_path / "config" / "encryption.yaml").read_text())
    (rule,) = encryption["resources"]
    assert rule["resources"] == ["secrets"]
    key = rule["providers"][0]["secretbox"]["keys"][0]["secret"]
    assert key == made.document.cluster.secretbox_encryption_secret
    assert (tmp_path / "config" / "encryption.yaml").stat().st_mode & 0o077 == 0
