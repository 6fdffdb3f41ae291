"""Component certificates and kubeconfigs of a control-plane node, and an admin's kubeconfig
merged into an existing file."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kiln.machined.kubernetes.pki import (
    admin_kubeconfig,
    service_ip,
    write_control_plane_files,
)
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.config.model import MachineConfigDocument
from kiln.machinery.kubernetes.kubeconfig import KubeconfigError, merge, render
from kiln.machinery.secrets import SecretsBundle


@pytest.fixture(scope="module")
def document() -> MachineConfigDocument:
    configs = generate_configs("demo", "https://k8s.example.org:6443", SecretsBundle.generate())
    return configs.controlplane.machine_config


def sans(pem: bytes) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return set(names.get_values_for_type(x509.DNSName)), ips


def test_apiserver_certificate_names_every_way_it_is_reached(
    document: MachineConfigDocument, tmp_path: Path
) -> None:
    paths = write_control_plane_files(document, "cp-1", "10.5.0.2", "k8s.example.org", tmp_path)
    dns, ips = sans(paths.cert("apiserver").read_bytes())
    assert {"cp-1", "localhost", "kubernetes.default.svc.cluster.local", "k8s.example.org"} <= dns
    assert {"10.5.0.2", "127.0.0.1", "10.96.0.1"} <= ips
    assert service_ip(document) == "10.96.0.1"
    ca = x509.load_pem_x509_certificate(paths.ca.read_bytes())
    for name in ("apiserver", "controller-manager", "scheduler", "apiserver-kubelet-client"):
        cert = x509.load_pem_x509_certificate(paths.cert(name).read_bytes())
        cert.verify_directly_issued_by(ca)
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_component_kubeconfigs_reach_the_local_apiserver_as_their_user(
    document: MachineConfigDocument, tmp_path: Path
) -> None:
    paths = write_control_plane_files(document, "cp-1", "10.5.0.2", "k8s.example.org", tmp_path)
    config = yaml.safe_load(paths.kubeconfig("scheduler").read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://10.5.0.2:6443"
    cert = base64.b64decode(config["users"][0]["user"]["client-certificate-data"])
    subject = x509.load_pem_x509_certificate(cert).subject.rfc4514_string()
    assert subject == "CN=system:kube-scheduler"


def test_admin_kubeconfig_is_a_cluster_admin_for_the_endpoint(
    document: MachineConfigDocument,
) -> None:
    user = admin_kubeconfig(document, "https://k8s.example.org:6443")
    config = yaml.safe_load(render(user))
    assert config["current-context"] == "admin@demo"
    assert config["clusters"][0]["cluster"]["server"] == "https://k8s.example.org:6443"
    cert = x509.load_pem_x509_certificate(user.cert_pem)
    assert "O=system:masters" in cert.subject.rfc4514_string()


def test_merge_replaces_entries_of_the_same_name_and_keeps_the_rest(
    document: MachineConfigDocument,
) -> None:
    existing = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "other", "cluster": {"server": "https://other"}}],
        "users": [{"name": "admin@demo", "user": {"token": "old"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "x"}}],
        "current-context": "other",
    }
    new = yaml.safe_load(render(admin_kubeconfig(document, "https://k8s.example.org:6443")))
    merged = merge(existing, new)
    assert [c["name"] for c in merged["clusters"]] == ["other", "demo"]
    assert [u["name"] for u in merged["users"]] == ["admin@demo"]
    assert "client-certificate-data" in merged["users"][0]["user"]
    assert merged["current-context"] == "admin@demo"
    with pytest.raises(KubeconfigError, match="not a kubeconfig"):
        merge(["a", "list"], new, "~/.kube/config")
