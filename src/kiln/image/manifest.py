"""The image manifest (versions and SHA-256 of every artifact) and its Ed25519 signature.

``manifest.json`` is written with sorted keys; ``manifest.sig`` holds the signature over its
exact bytes and the id of the key that made it. :func:`verify` checks the signature with a
public key, then every artifact's size and hash; anything else is refused with VerifyError.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiln.image.apt import sha256_file
from kiln.image.errors import ImageError, VerifyError
from kiln.machinery.errors import SignatureError
from kiln.machinery.osimage import signature as osimage_signature
from kiln.machinery.osimage.signature import key_id
from kiln.machinery.privatefile import write_private_file

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PRIVATE_KEY_FILE = "image-signing.key"
PUBLIC_KEY_FILE = "image-signing.pub"


def describe(directory: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"sha256": ..., "size": ...}}`` of the artifacts in ``directory``."""
    return {
        name: {"sha256": sha256_file(directory / name), "size": (directory / name).stat().st_size}
        for name in sorted(names)
    }


def encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def generate_key(directory: Path) -> tuple[Path, Path]:
    """A new image signing key pair: the private key (mode 0600) and the public key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_private_file(directory / PRIVATE_KEY_FILE, private)
    (directory / PUBLIC_KEY_FILE).write_bytes(public)
    return directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the signing key: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise ImageError(f"{path}: not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImageError(f"{path}: not an Ed25519 key (make one with `kilnctl gen image-key`)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise VerifyError(f"{path}: cannot read the public key: {exc.strerror}") from None
    except ValueError as exc:
        raise VerifyError(f"{path}: not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise VerifyError(f"{path}: not an Ed25519 public key")
    return key


def sign(directory: Path, key: Ed25519PrivateKey) -> None:
    """Write ``manifest.sig`` for the ``manifest.json`` in ``directory``."""
    data = (directory / MANIFEST).read_bytes()
    signature = {
        "algorithm": "ed25519",
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(data)).decode(),
    }
    (directory / SIGNATURE).write_text(json.dumps(signature, indent=2, sort_keys=True) + "\n")


def verify(directory: Path, public: Ed25519PublicKey) -> dict[str, Any]:
    """The manifest of the image in ``directory`` once its signature and every artifact
    check out; VerifyError says what does not."""
    manifest_path, signature_path = directory / MANIFEST, directory / SIGNATURE
    try:
        data = manifest_path.read_bytes()
        signature = signature_path.read_bytes()
    except FileNotFoundError as exc:
        raise VerifyError(f"{exc.filename}: missing (is the image signed?)") from None
    except OSError as exc:
        raise VerifyError(f"{signature_path}: unreadable signature: {exc}") from None
    try:
        manifest = osimage_signature.check(data, signature, public, str(manifest_path))
    except SignatureError as exc:
        raise VerifyError(str(exc)) from None
    for name, expected in sorted(manifest.get("artifacts", {}).items()):
        path = directory / name
        if not path.is_file():
            raise VerifyError(f"{path}: missing artifact listed in the manifest")
        actual = sha256_file(path)
        if actual != expected["sha256"] or path.stat().st_size != expected["size"]:
            raise VerifyError(
                f"{path}: SHA-256 {actual} does not match the manifest's {expected['sha256']}"
                " (the artifact was changed after signing)"
            )
    return dict(manifest)
