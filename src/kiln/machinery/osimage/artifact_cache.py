"""A content-addressed store of downloaded image artifacts, so that an image served at a URL
is downloaded once however many machines are sent it (the hub streams the same upgrade to a
whole cluster).

Artifacts are kept by the SHA-256 their manifest gives, checked as they are downloaded: a
download that does not match is dropped, never kept. Files are written under a temporary
name and renamed, so a process killed mid-download leaves no partial artifact. Only the most
recently used :data:`KEEP` artifacts stay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

from kiln.machinery.osimage.errors import ImageSourceError

KEEP = 9  # three images' kernel, initramfs and root
FETCH_TIMEOUT = 60.0
CHUNK = 1 << 20


def manifest_hashes(manifest: bytes, where: str, names: tuple[str, ...]) -> dict[str, str]:
    """The SHA-256 the manifest gives for each of ``names``. Unchecked: the node checks the
    signature; this only decides which bytes a download must have to be kept."""
    try:
        artifacts = json.loads(manifest)["artifacts"]
        hashes = {name: str(artifacts[name]["sha256"]) for name in names}
    except (ValueError, KeyError, TypeError):
        raise ImageSourceError(f"{where}: its manifest lists no SHA-256 for {names}") from None
    for name, digest in hashes.items():
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ImageSourceError(f"{where}: its manifest's SHA-256 of {name} is not one")
    return hashes


def fetch(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` (ImageSourceError when it cannot be read)."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response, target.open("wb") as f:
            while data := response.read(CHUNK):
                f.write(data)
    except (urllib.error.URLError, OSError) as exc:
        raise ImageSourceError(f"{url}: cannot download: {exc}") from None


class ArtifactCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # one download of an artifact at a time

    def get(self, url: str, digest: str) -> Path:
        """The artifact at ``url`` whose SHA-256 is ``digest``: kept, or downloaded and kept."""
        self.directory.mkdir(parents=True, exist_ok=True)
        kept = self.directory / digest
        with self._lock:
            if kept.is_file():
                os.utime(kept)
                return kept
            partial = self.directory / f".{digest}.partial"
            try:
                fetch(url, partial)
                found = _sha256(partial)
                if found != digest:
                    raise ImageSourceError(
                        f"{url}: downloaded bytes have SHA-256 {found}, the manifest says {digest}"
                    )
                partial.rename(kept)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
            self._prune()
        return kept

    def _prune(self) -> None:
        kept = [p for p in self.directory.iterdir() if not p.name.startswith(".")]
        kept.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while data := f.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()
