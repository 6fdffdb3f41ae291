"""Secrets and PKI: certificate authorities, issued certificates and the cluster secrets bundle.

Errors are :class:`kiln.machinery.errors.SecretsError`.
"""

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
