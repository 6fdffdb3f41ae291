"""Where ``kilnctl upgrade --image`` reads an image from: a directory, a tarball, a URL."""

from __future__ import annotations

import functools
import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.machined.testing import free_port
from kiln.machinery.osimage import source


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
