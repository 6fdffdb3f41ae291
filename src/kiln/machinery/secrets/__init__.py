"""Secrets and PKI: certificate authorities, issued certificates and the cluster secrets bundle.

Errors are :class:`kiln.machinery.errors.SecretsError`.

The names load with the module that defines them, on first use: a node's early API makes its
self-signed certificate (:mod:`.selfsigned`) without loading the bundle's models (pydantic).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.machinery.secrets.bundle import SecretsBundle
    from kiln.machinery.secrets.client import CLIENT_VALIDITY, issue_client_certificate
    from kiln.machinery.secrets.keys import KeyAlgorithm, KeyPair
    from kiln.machinery.secrets.pki import (
        Certificate,
        CertificateAuthority,
        IssuedCertificate,
        Usage,
    )
    from kiln.machinery.secrets.selfsigned import self_signed_server

_MODULES = {
    "SecretsBundle": "bundle",
    "CLIENT_VALIDITY": "client",
    "issue_client_certificate": "client",
    "KeyAlgorithm": "keys",
    "KeyPair": "keys",
    "Certificate": "pki",
    "CertificateAuthority": "pki",
    "IssuedCertificate": "pki",
    "Usage": "pki",
    "self_signed_server": "selfsigned",
}

__all__ = [
    "CLIENT_VALIDITY",
    "Certificate",
    "CertificateAuthority",
    "IssuedCertificate",
    "KeyAlgorithm",
    "KeyPair",
    "SecretsBundle",
    "Usage",
    "issue_client_certificate",
    "self_signed_server",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
