"""Where ``kilnctl upgrade --image`` reads an image from: a directory, a tarball, a URL."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from kiln.machined.testing import free_port
from kiln.machinery.osimage import artifact_cache, source
from kiln.machinery.osimage.artifact_cache import ArtifactCache


@pytest.fixture
def image(tmp_path: Path) -> Path:
    directory = tmp_path / "image"
    directory.mkdir()
    for name in (source.MANIFEST, source.SIGNATURE, *source.ARTIFACTS):
        (directory / name).write_bytes(name.encode())
    return directory


def test_a_build_directory(image: Path) -> None:
    with source.open_image(str(image)) as found:
        assert found.manifest == b"manifest.json"
        assert [p.name for p in found.artifacts()] == list(source.ARTIFACTS)
        assert found.size == sum(len(n) for n in source.ARTIFACTS)


def test_an_unsigned_or_incomplete_image_is_refused(image: Path) -> None:
    (image / source.SIGNATURE).unlink()
    with pytest.raises(source.ImageSourceError, match="the image is not signed"):
        source.open_image(str(image)).__enter__()
    with pytest.raises(source.ImageSourceError, match="no such image directory"):
        source.open_image(str(image / "nothing")).__enter__()


def test_a_tarball_of_a_build_directory(image: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(image, arcname="kiln-os")
    with source.open_image(str(tarball)) as found:
        assert found.signature == b"manifest.sig"
        assert found.directory.name == "kiln-os"


@pytest.fixture
def served(image: Path) -> Iterator[str]:
    port = free_port("127.0.0.1")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(image.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_to_a_build_directory(served: str) -> None:
    with source.open_image(f"{served}/image/") as found:
        assert (found.directory / "vmlinuz").read_bytes() == b"vmlinuz"


def test_a_url_that_does_not_answer_is_an_error(served: str) -> None:
    with pytest.raises(source.ImageSourceError, match="cannot download"):
        source.open_image(f"{served}/missing").__enter__()


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    fetched: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.fetched.append(self.path)
        super().do_GET()


def signed_image(directory: Path, contents: dict[str, bytes]) -> None:
    """A build directory whose manifest gives each artifact's SHA-256 (signature unchecked)."""
    directory.mkdir(exist_ok=True)
    hashes = {}
    for name, data in contents.items():
        (directory / name).write_bytes(data)
        hashes[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = json.dumps({"version": "1.0", "artifacts": hashes}).encode()
    (directory / source.MANIFEST).write_bytes(manifest)
    (directory / source.SIGNATURE).write_bytes(b"signature")


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    port = free_port("127.0.0.1")
    handler = functools.partial(CountingHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    CountingHandler.fetched = []
    try:
        yield f"http://127.0.0.1:{port}", CountingHandler.fetched
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_image_is_downloaded_once_for_every_machine(
    tmp_path: Path, counted: tuple[str, list[str]]
) -> None:
    url, fetched = counted
    contents = {name: f"{name} v1".encode() for name in source.ARTIFACTS}
    signed_image(tmp_path / "v1", contents)
    cache = ArtifactCache(tmp_path / "cache")
    for _ in range(3):
        with source.open_image(f"{url}/v1/", cache) as found:
            assert [p.read_bytes() for p in found.artifacts()] == list(contents.values())
    artifacts = [p for p in fetched if not p.endswith((source.MANIFEST, source.SIGNATURE))]
    assert sorted(artifacts) == sorted(f"/v1/{name}" for name in source.ARTIFACTS)
    assert fetched.count(f"/v1/{source.MANIFEST}") == 3  # what the URL serves is asked each time
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


def test_a_download_unlike_its_manifest_is_not_kept(
    tmp_path: Path, counted: tuple[str, list[str]]
) -> None:
    url, _ = counted
    signed_image(tmp_path / "v1", {name: name.encode() for name in source.ARTIFACTS})
    (tmp_path / "v1" / "initramfs").write_bytes(b"tampered on the server")
    cache = ArtifactCache(tmp_path / "cache")
    with (
        pytest.raises(source.ImageSourceError, match="initramfs: downloaded bytes have SHA-256"),
        source.open_image(f"{url}/v1", cache),
    ):
        pass
    kept = {p.name for p in (tmp_path / "cache").iterdir()}
    tampered = hashlib.sha256(b"tampered on the server").hexdigest()
    assert hashlib.sha256(b"initramfs").hexdigest() not in kept
    assert tampered not in kept
    assert not [name for name in kept if name.startswith(".")]


def test_only_the_latest_images_are_kept(tmp_path: Path, counted: tuple[str, list[str]]) -> None:
    url, _ = counted
    cache = ArtifactCache(tmp_path / "cache")
    images = 1 + artifact_cache.KEEP // len(source.ARTIFACTS)
    for n in range(images):
        signed_image(
            tmp_path / f"v{n}", {name: f"{name} {n}".encode() for name in source.ARTIFACTS}
        )
        with source.open_image(f"{url}/v{n}", cache):
            pass
    kept = {p.name for p in (tmp_path / "cache").iterdir()}
    assert len(kept) == artifact_cache.KEEP
    latest = f"{source.ARTIFACTS[0]} {images - 1}".encode()
    assert hashlib.sha256(latest).hexdigest() in kept
    first = hashlib.sha256(f"{source.ARTIFACTS[0]} 0".encode()).hexdigest()
    assert first not in kept
