"""Where ``kilnctl upgrade --image`` finds an image: a build directory, a tarball of one, or an
http(s) URL to either (the directory's files under the URL, or the tarball). The files are
read as they are streamed to the node: the node checks the signature and hashes, the client
only makes sure the files are there."""

from __future__ import annotations

import contextlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiln.machinery.errors import MachineryError

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
ARTIFACTS = ("vmlinuz", "initramfs", "rootfs.squashfs")  # what an upgrade sends, in order
TARBALLS = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz")
FETCH_TIMEOUT = 60.0


class ImageSourceError(MachineryError):
    """An image to upgrade to cannot be found or read."""


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
def open_image(where: str) -> Iterator[ImageFiles]:
    """The image at ``where`` (a directory, a tarball, an http(s) URL to either)."""
    with tempfile.TemporaryDirectory(prefix="kiln-image-") as tmp:
        scratch = Path(tmp)
        if where.startswith(("http://", "https://")):
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
        _fetch(url, target)
        return _unpack(target, scratch)
    directory = scratch / "image"
    directory.mkdir()
    for name in (MANIFEST, SIGNATURE, *ARTIFACTS):
        _fetch(f"{url.rstrip('/')}/{name}", directory / name)
    return directory


def _fetch(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response, target.open("wb") as f:
            shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError) as exc:
        raise ImageSourceError(f"{url}: cannot download: {exc}") from None
