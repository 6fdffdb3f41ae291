"""Checking an image manifest's Ed25519 signature (``manifest.sig``: the algorithm, the id of
the signing key and the signature over the exact bytes of ``manifest.json``)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiln.machinery.errors import SignatureError


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise SignatureError(f"{where}: not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{where}: not an Ed25519 public key")
    return key


def check(
    data: bytes, signature_text: bytes, public: Ed25519PublicKey, where: str
) -> dict[str, Any]:
    """The manifest ``data`` decoded, once ``signature_text`` proves ``public`` signed it."""
    try:
        signature = json.loads(signature_text)
    except ValueError as exc:
        raise SignatureError(f"{where}: unreadable signature: {exc}") from None
    if not isinstance(signature, dict) or signature.get("algorithm") != "ed25519":
        raise SignatureError(f"{where}: not an Ed25519 signature")
    try:
        public.verify(base64.b64decode(str(signature.get("signature", ""))), data)
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{where}: the signature does not match (signed by key "
            f"{signature.get('key_id', '?')}, checked with key {key_id(public)}; "
            "or the manifest was changed)"
        ) from None
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise SignatureError(f"{where}: the manifest is not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise SignatureError(f"{where}: the manifest is not a JSON object")
    return manifest
