"""Signed manifests: a signed image verifies; a changed artifact, a changed manifest, another
key or a missing signature is refused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiln.image import manifest
from kiln.image.errors import ImageError, VerifyError


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    keys = tmp_path / "keys"
    private, public = manifest.generate_key(keys)
    image = tmp_path / "image"
    image.mkdir()
    for name in ("vmlinuz", "initramfs", "rootfs.squashfs"):
        (image / name).write_bytes(name.encode() * 1000)
    data = {
        "version": "1",
        "artifacts": manifest.describe(image, ["vmlinuz", "initramfs", "rootfs.squashfs"]),
    }
    (image / manifest.MANIFEST).write_bytes(manifest.encode(data))
    manifest.sign(image, manifest.load_private_key(private))
    return image, public


def test_a_signed_image_verifies(signed: tuple[Path, Path]) -> None:
    image, public = signed
    data = manifest.verify(image, manifest.load_public_key(public))
    assert set(data["artifacts"]) == {"vmlinuz", "initramfs", "rootfs.squashfs"}


def test_the_private_key_is_private(tmp_path: Path) -> None:
    private, _ = manifest.generate_key(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_changed_artifact_is_refused(signed: tuple[Path, Path]) -> None:
    image, public = signed
    with (image / "rootfs.squashfs").open("r+b") as f:
        f.write(b"X")
    with pytest.raises(VerifyError, match=r"rootfs.squashfs: SHA-256 .* changed after signing"):
        manifest.verify(image, manifest.load_public_key(public))


def test_a_changed_manifest_is_refused(signed: tuple[Path, Path]) -> None:
    image, public = signed
    data = json.loads((image / manifest.MANIFEST).read_text())
    data["version"] = "2"
    (image / manifest.MANIFEST).write_bytes(manifest.encode(data))
    with pytest.raises(VerifyError, match="signature does not match"):
        manifest.verify(image, manifest.load_public_key(public))


def test_another_key_is_refused(signed: tuple[Path, Path], tmp_path: Path) -> None:
    image, _ = signed
    _, other = manifest.generate_key(tmp_path / "other")
    with pytest.raises(VerifyError, match="signature does not match"):
        manifest.verify(image, manifest.load_public_key(other))


def test_an_unsigned_image_is_refused(signed: tuple[Path, Path]) -> None:
    image, public = signed
    (image / manifest.SIGNATURE).unlink()
    with pytest.raises(VerifyError, match=r"manifest.sig: missing"):
        manifest.verify(image, manifest.load_public_key(public))


def test_a_missing_artifact_is_refused(signed: tuple[Path, Path]) -> None:
    image, public = signed
    (image / "vmlinuz").unlink()
    with pytest.raises(VerifyError, match="vmlinuz: missing artifact"):
        manifest.verify(image, manifest.load_public_key(public))


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(ImageError, match="not a PEM private key"):
        manifest.load_private_key(tmp_path / "k.pem")
    with pytest.raises(VerifyError, match="not a PEM public key"):
        manifest.load_public_key(tmp_path / "k.pem")
