"""Where ``kilnctl upgrade --image`` finds an image: a build directory, a tarball of one, or an
http(s) URL to either (the directory's files under the URL, or the tarball). The files are
read as they are streamed to the node: the node checks the signature and hashes, the client
only makes sure the files are there. Given an :class:`ArtifactCache`, the artifacts of an image
at a directory URL are downloaded once (kept by their SHA-256) for every later open."""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiln.machinery.osimage.artifact_cache import ArtifactCache, fetch, manifest_hashes
from kiln.machinery.osimage.errors import ImageSourceError

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
ARTIFACTS = ("vmlinuz", "initramfs", "rootfs.squashfs")  # what an upgrade sends, in order
TARBALLS = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz")

__all__ = ["ImageFiles", "ImageSourceError", "open_image"]


@dataclass(frozen=True)
class ImageFiles:
    directory: Path
    manifest: bytes
    signature: bytes

    def artifacts(self) -> list[Path]:
        return [self.directory / name for name in ARTIFACTS]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.artifacts())


@contextlib.contextmanager
def open_image(where: str, cache: ArtifactCache | None = None) -> Iterator[ImageFiles]:
    """The image at ``where`` (a directory, a tarball, an http(s) URL to either)."""
    url = where.startswith(("http://", "https://"))
    kept = cache if url and not where.endswith(TARBALLS) else None
    if kept is not None:  # scratch beside the kept artifacts: links to them, not copies
        kept.directory.mkdir(parents=True, exist_ok=True)
    inside = kept.directory if kept is not None else None
    with tempfile.TemporaryDirectory(prefix=".kiln-image-", dir=inside) as tmp:
        scratch = Path(tmp)
        if kept is not None:
            directory = _download_cached(where, scratch, kept)
        elif url:
            directory = _download(where, scratch)
        elif where.endswith(TARBALLS):
            directory = _unpack(Path(where), scratch)
        else:
            directory = Path(where)
        yield _read(directory, where)


def _read(directory: Path, where: str) -> ImageFiles:
    if not directory.is_dir():
        raise ImageSourceError(f"{where}: no such image directory or tarball")
    try:
        manifest = (directory / MANIFEST).read_bytes()
    except OSError:
        raise ImageSourceError(f"{where}: no {MANIFEST} (not an image build)") from None
    try:
        signature = (directory / SIGNATURE).read_bytes()
    except OSError:
        raise ImageSourceError(
            f"{where}: no {SIGNATURE}: the image is not signed (build it with --signing-key)"
        ) from None
    for name in ARTIFACTS:
        if not (directory / name).is_file():
            raise ImageSourceError(f"{where}: {name} is missing")
    return ImageFiles(directory, manifest, signature)


def _unpack(tarball: Path, scratch: Path) -> Path:
    if not tarball.is_file():
        raise ImageSourceError(f"{tarball}: no such file")
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(scratch / "image", filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise ImageSourceError(f"{tarball}: not a readable tarball: {exc}") from None
    found = sorted(scratch.glob(f"image/**/{MANIFEST}"))
    if not found:
        raise ImageSourceError(f"{tarball}: holds no {MANIFEST}")
    return found[0].parent


def _download(url: str, scratch: Path) -> Path:
    if url.endswith(TARBALLS):
        target = scratch / ("download" + next(s for s in TARBALLS if url.endswith(s)))
        fetch(url, target)
        return _unpack(target, scratch)
    directory = scratch / "image"
    directory.mkdir()
    for name in (MANIFEST, SIGNATURE, *ARTIFACTS):
        fetch(f"{url.rstrip('/')}/{name}", directory / name)
    return directory


def _download_cached(url: str, scratch: Path, cache: ArtifactCache) -> Path:
    """The manifest and signature fetched again (they say what the URL serves now), each
    artifact from the cache when it holds the bytes the manifest names."""
    base = url.rstrip("/")
    directory = scratch / "image"
    directory.mkdir()
    for name in (MANIFEST, SIGNATURE):
        fetch(f"{base}/{name}", directory / name)
    hashes = manifest_hashes((directory / MANIFEST).read_bytes(), url, ARTIFACTS)
    for name in ARTIFACTS:
        os.link(cache.get(f"{base}/{name}", hashes[name]), directory / name)
    return directory
