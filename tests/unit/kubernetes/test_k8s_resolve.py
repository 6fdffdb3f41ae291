"""Which binaries a control-plane node runs: the configured version's, or, when those fail
verification, the version it ran before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_k8s_artifacts import publish

from kiln.machined.kubernetes.artifacts import CONTROL_PLANE_BINARIES, ArtifactCache
from kiln.machined.kubernetes.errors import ArtifactVerificationError, KubernetesVersionError
from kiln.machined.node.k8s_controlplane import resolve_binaries
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import SecretsBundle


def config(version: str, release: Path) -> MachineConfig:
    generated = generate_configs("test", "https://127.0.0.1:6443", SecretsBundle.generate())
    documents = generated.controlplane.to_documents()
    documents[0]["cluster"]["kubernetes"] = {
        "version": version,
        "artifacts": {"source": "local", "path": str(release)},
    }
    return MachineConfig.from_documents(documents)


def release(base: Path, version: str, *, tampered: bool = False) -> None:
    for name in CONTROL_PLANE_BINARIES:
        content = f"{name} {version}".encode()
        digest = hashlib.sha256(b"other" if tampered else content).hexdigest()
        publish(base, name, content, digest, version)


@pytest.fixture(autouse=True)
def _amd64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "x86_64")


def test_the_configured_version_runs_and_becomes_current(tmp_path: Path) -> None:
    release(tmp_path / "r", "v1.20.2")
    cache = ArtifactCache(tmp_path / "cache")
    resolved = resolve_binaries(config("v1.20.2", tmp_path / "r"), cache)
    assert resolved.version == "v1.20.2" and set(resolved.binaries) == set(CONTROL_PLANE_BINARIES)
    assert resolved.binaries["kube-apiserver"].read_bytes() == b"kube-apiserver v1.20.2"
    assert cache.current() == "v1.20.2"


def test_a_tampered_new_version_leaves_the_node_on_the_previous_one(tmp_path: Path) -> None:
    release(tmp_path / "r", "v1.20.2")
    release(tmp_path / "r", "v1.36.0", tampered=True)
    cache = ArtifactCache(tmp_path / "cache")
    resolve_binaries(config("v1.20.2", tmp_path / "r"), cache)
    resolved = resolve_binaries(config("v1.36.0", tmp_path / "r"), cache)
    assert resolved.version == "v1.20.2"
    assert resolved.binaries["kube-scheduler"].read_bytes() == b"kube-scheduler v1.20.2"
    assert cache.current() == "v1.20.2"


def test_a_tampered_first_version_is_refused(tmp_path: Path) -> None:
    release(tmp_path / "r", "v1.36.0", tampered=True)
    with pytest.raises(ArtifactVerificationError):
        resolve_binaries(config("v1.36.0", tmp_path / "r"), ArtifactCache(tmp_path / "cache"))


def test_an_unsupported_version_is_refused_before_anything_is_fetched(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    with pytest.raises(KubernetesVersionError):
        resolve_binaries(config("v1.25.0", tmp_path / "r"), cache)
    assert not cache.root.exists()
