"""What a control-plane node's etcd member is made of: address, certificate names, the URL
where it finds the cluster, and which configs run one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln.machined.etcd import EtcdBinaryNotFoundError, EtcdCertificateError, EtcdCertificates
from kiln.machined.node import etcd_setup
from kiln.machined.node.options import NodeOptions
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import Certificate, SecretsBundle


@pytest.fixture(scope="module")
def configs() -> tuple[MachineConfig, MachineConfig]:
    generated = generate_configs("t", "https://127.50.0.1:6443", SecretsBundle.generate())
    return generated.controlplane, generated.worker


def test_only_control_plane_configs_run_etcd(configs: tuple[MachineConfig, MachineConfig]) -> None:
    controlplane, worker = configs
    assert etcd_setup.runs_etcd(controlplane)
    assert not etcd_setup.runs_etcd(worker)
    assert not etcd_setup.runs_etcd(None)


def test_the_address_is_the_api_host_else_the_first_host_address(tmp_path: Path) -> None:
    specific = NodeOptions(Mode.CONTAINER, tmp_path, api_host="10.5.0.2")
    assert etcd_setup.node_address(specific, ["10.9.9.9"]) == "10.5.0.2"
    anywhere = NodeOptions(Mode.CONTAINER, tmp_path)
    assert etcd_setup.node_address(anywhere, ["10.9.9.9", "10.9.9.10"]) == "10.9.9.9"
    with pytest.raises(EtcdCertificateError, match="--api-addr"):
        etcd_setup.node_address(anywhere, [])


def test_a_loopback_node_also_names_127_0_0_1() -> None:
    assert etcd_setup.certificate_addresses("127.50.0.2") == ["127.50.0.2", "127.0.0.1"]
    assert etcd_setup.certificate_addresses("127.0.0.1") == ["127.0.0.1"]
    assert etcd_setup.certificate_addresses("10.5.0.2") == ["10.5.0.2"]


def test_the_cluster_is_found_at_the_endpoint_host_unless_that_is_this_node(
    configs: tuple[MachineConfig, MachineConfig],
) -> None:
    controlplane, _ = configs
    assert etcd_setup.discovery_url(controlplane, "127.50.0.2") == "https://127.50.0.1:2379"
    assert etcd_setup.discovery_url(controlplane, "127.50.0.1") is None


def test_prepare_issues_the_member_certificates(
    configs: tuple[MachineConfig, MachineConfig], tmp_path: Path
) -> None:
    controlplane, _ = configs
    options = NodeOptions(Mode.CONTAINER, tmp_path, api_host="127.50.0.2")
    try:
        setup = etcd_setup.prepare(controlplane, options, "cp-2", [])
    except EtcdBinaryNotFoundError as exc:
        pytest.skip(f"the etcd programs are not installed: {exc}")
    member = setup.member
    assert (member.name, member.address) == ("cp-2", "127.50.0.2")
    assert member.data_dir == tmp_path / "etcd" and setup.work_dir == tmp_path / "etcd-work"
    assert setup.discovery_url == "https://127.50.0.1:2379"
    issued = EtcdCertificates.load(member.certs.directory)
    etcd = controlplane.machine_config.cluster.etcd
    assert etcd is not None
    assert issued.ca.pem == Certificate.from_b64(etcd.ca.crt).pem
    assert issued.peer.certificate.common_name == "cp-2"
    for path in member.certs.all():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_leftovers_of_a_killed_snapshot_or_recovery_are_removed(
    configs: tuple[MachineConfig, MachineConfig], tmp_path: Path
) -> None:
    controlplane, _ = configs
    options = NodeOptions(Mode.CONTAINER, tmp_path, api_host="127.50.0.2")
    try:
        setup = etcd_setup.prepare(controlplane, options, "cp-2", [])
    except EtcdBinaryNotFoundError as exc:
        pytest.skip(f"the etcd programs are not installed: {exc}")
    (setup.work_dir / "etcd-snapshot-x").mkdir(parents=True)
    (tmp_path / ".etcd.abc.restore" / "data").mkdir(parents=True)
    (setup.member.data_dir / "member" / "wal").mkdir(parents=True)
    etcd_setup.remove_leftovers(setup)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etcd", "secrets"]
    assert (setup.member.data_dir / "member" / "wal").is_dir()
