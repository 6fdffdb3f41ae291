"""Kubernetes binaries from a local directory or an HTTP mirror: verified by SHA-256, kept by
digest, a tampered one refused and never kept."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.machined.kubernetes.artifacts import (
    OFFICIAL_BASE,
    ArtifactCache,
    ArtifactLocation,
)
from kiln.machined.kubernetes.errors import ArtifactError, ArtifactVerificationError
from kiln.machinery.config.model import ArtifactSource, KubernetesArtifacts

VERSION = "v1.20.2"
ARCH = "amd64"


def publish(
    base: Path, name: str, content: bytes, digest: str | None = None, version: str = VERSION
) -> Path:
    """A release-layout file with its .sha256 (the real digest unless ``digest``)."""
    directory = base / version / "bin" / "linux" / ARCH
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content)
    published = digest or hashlib.sha256(content).hexdigest()
    (directory / f"{name}.sha256").write_text(published)  # as dl.k8s.io: no newline, no name
    return directory / name


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/release"
    finally:
        server.shutdown()
        server.server_close()


def test_locations_from_config() -> None:
    official = ArtifactLocation.from_config(KubernetesArtifacts())
    assert official.binary("v1.36.0", "amd64", "kubelet") == (
        f"{OFFICIAL_BASE}/v1.36.0/bin/linux/amd64/kubelet"
    )
    assert OFFICIAL_BASE == "https://dl.k8s.io/release"
    mirror = KubernetesArtifacts(source=ArtifactSource.MIRROR, url="http://10.0.0.5/k8s/")
    assert ArtifactLocation.from_config(mirror).binary("v1.36.0", "arm64", "kube-proxy") == (
        "http://10.0.0.5/k8s/v1.36.0/bin/linux/arm64/kube-proxy"
    )
    local = KubernetesArtifacts(source=ArtifactSource.LOCAL, path="/srv/k8s")
    assert ArtifactLocation.from_config(local).binary("v1.20.2", "amd64", "kubelet") == (
        "/srv/k8s/v1.20.2/bin/linux/amd64/kubelet"
    )


def test_local_binaries_are_kept_by_digest_and_recorded(tmp_path: Path) -> None:
    content = b"#!/bin/sh\necho apiserver\n"
    publish(tmp_path / "release", "kube-apiserver", content)
    cache = ArtifactCache(tmp_path / "cache")
    location = ArtifactLocation(str(tmp_path / "release"), local=True)
    found = cache.fetch(location, VERSION, ARCH, ["kube-apiserver"])
    digest = hashlib.sha256(content).hexdigest()
    path = found["kube-apiserver"]
    assert path == tmp_path / "cache" / "sha256" / digest
    assert path.read_bytes() == content and path.stat().st_mode & 0o777 == 0o755
    assert cache.recorded(VERSION, ARCH) == {"kube-apiserver": path}
    assert [p.name for p in (tmp_path / "cache" / "sha256").iterdir()] == [digest]  # no temp


def test_a_tampered_binary_is_refused_and_not_kept(tmp_path: Path) -> None:
    publish(tmp_path / "release", "kube-apiserver", b"evil", hashlib.sha256(b"good").hexdigest())
    cache = ArtifactCache(tmp_path / "cache")
    location = ArtifactLocation(str(tmp_path / "release"), local=True)
    with pytest.raises(ArtifactVerificationError) as refused:
        cache.fetch(location, VERSION, ARCH, ["kube-apiserver"])
    assert "refused, not executed" in str(refused.value)
    assert "kube-apiserver" in str(refused.value)
    assert list((tmp_path / "cache" / "sha256").iterdir()) == []
    assert cache.recorded(VERSION, ARCH) == {}


def test_a_cached_binary_changed_on_disk_is_removed_before_it_runs(tmp_path: Path) -> None:
    publish(tmp_path / "release", "kube-scheduler", b"scheduler")
    cache = ArtifactCache(tmp_path / "cache")
    location = ArtifactLocation(str(tmp_path / "release"), local=True)
    path = cache.fetch(location, VERSION, ARCH, ["kube-scheduler"])["kube-scheduler"]
    assert cache.verify(path) == path
    path.write_bytes(b"scheduler, patched")
    with pytest.raises(ArtifactVerificationError, match="changed on disk"):
        cache.verify(path)
    assert not path.exists()
    # fetched again from the source, intact
    assert cache.fetch(location, VERSION, ARCH, ["kube-scheduler"])["kube-scheduler"] == path
    assert path.read_bytes() == b"scheduler"


def test_a_mirror_serves_the_same_layout(tmp_path: Path) -> None:
    content = b"\x7fELF kubelet" * 1000
    publish(tmp_path / "www" / "release", "kubelet", content)
    cache = ArtifactCache(tmp_path / "cache")
    with serve(tmp_path / "www") as base:
        path = cache.fetch(ArtifactLocation(base), VERSION, ARCH, ["kubelet"])["kubelet"]
        assert path.read_bytes() == content
        with pytest.raises(ArtifactError, match="HTTP 404"):
            cache.fetch(ArtifactLocation(base), "v1.36.0", ARCH, ["kubelet"])


def test_a_missing_digest_file_is_an_error_naming_it(tmp_path: Path) -> None:
    location = ArtifactLocation(str(tmp_path / "nothing"), local=True)
    with pytest.raises(ArtifactError) as missing:
        ArtifactCache(tmp_path / "cache").fetch(location, VERSION, ARCH, ["kube-proxy"])
    assert "kube-proxy.sha256" in str(missing.value)


def test_a_digest_file_without_a_digest_is_refused(tmp_path: Path) -> None:
    publish(tmp_path / "release", "kube-proxy", b"proxy", digest="<html>not found</html>")
    location = ArtifactLocation(str(tmp_path / "release"), local=True)
    with pytest.raises(ArtifactVerificationError, match="holds no SHA-256 digest"):
        ArtifactCache(tmp_path / "cache").fetch(location, VERSION, ARCH, ["kube-proxy"])


def test_the_current_version_is_remembered(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "cache")
    assert cache.current() is None
    cache.set_current("v1.36.0")
    assert ArtifactCache(tmp_path / "cache").current() == "v1.36.0"
