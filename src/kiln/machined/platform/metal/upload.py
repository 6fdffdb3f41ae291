"""Receiving an OS image for an upgrade: its signed manifest first (checked against the key
the running image trusts before any data is taken), then its artifacts, each hashed as it
arrives and checked against the manifest before anything is written to a slot."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import IO, Any

from kiln.machined.errors import InvalidRequestError
from kiln.machinery.errors import SignatureError
from kiln.machinery.osimage import layout, signature

ARTIFACTS = ("initramfs", "rootfs.squashfs", "vmlinuz")


def trusted_key(path: Path = Path(layout.TRUSTED_KEY)) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidRequestError(
            f"this image trusts no signing key ({path} is missing: it was built unsigned), "
            "so it accepts no upgrade"
        ) from None


class ImageUpload:
    """One upgrade's artifacts, gathered in ``directory`` (on /var)."""

    def __init__(self, directory: Path, public_pem: bytes) -> None:
        self.directory = directory
        self._public = signature.load_public_key(public_pem, layout.TRUSTED_KEY)
        self.manifest: dict[str, Any] = {}
        self._hashes: dict[str, Any] = {}
        self._sizes: dict[str, int] = {}
        self._files: dict[str, IO[bytes]] = {}

    def begin(self, manifest: bytes, signature_text: bytes) -> dict[str, Any]:
        """Check the manifest's signature; its decoded form. InvalidRequestError if refused."""
        try:
            found = signature.check(manifest, signature_text, self._public, "manifest.json")
        except SignatureError as exc:
            raise InvalidRequestError(f"upgrade refused: {exc}") from None
        listed = found.get("artifacts", {})
        missing = [name for name in ARTIFACTS if name not in listed]
        if missing:
            raise InvalidRequestError(f"upgrade refused: the manifest lists no {missing[0]}")
        self.manifest = found
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        return found

    def write(self, artifact: str, data: bytes) -> None:
        if not self.manifest:
            raise InvalidRequestError("upgrade: the first message must carry the manifest")
        if artifact not in ARTIFACTS:
            raise InvalidRequestError(f"upgrade: unknown artifact {artifact!r}")
        if artifact not in self._files:
            self._files[artifact] = (self.directory / artifact).open("wb")
            self._hashes[artifact] = hashlib.sha256()
            self._sizes[artifact] = 0
        self._files[artifact].write(data)
        self._hashes[artifact].update(data)
        self._sizes[artifact] += len(data)
        if self._sizes[artifact] > int(self.manifest["artifacts"][artifact]["size"]):
            raise InvalidRequestError(
                f"upgrade refused: {artifact} is larger than its manifest says"
            )

    def finish(self) -> None:
        """Every artifact arrived whole and matches the manifest; InvalidRequestError if not."""
        self.close()
        for name in ARTIFACTS:
            expected = self.manifest["artifacts"][name]
            if name not in self._hashes:
                raise InvalidRequestError(f"upgrade refused: {name} was not sent")
            actual = self._hashes[name].hexdigest()
            if actual != expected["sha256"] or self._sizes[name] != expected["size"]:
                raise InvalidRequestError(
                    f"upgrade refused: {name} has SHA-256 {actual}, the signed manifest says "
                    f"{expected['sha256']} (changed after signing, or cut short)"
                )

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
