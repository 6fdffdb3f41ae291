"""Client certificates for the machine API: the role is the certificate's Organization."""

from __future__ import annotations

from datetime import datetime, timedelta

from kiln.machinery.roles import Role
from kiln.machinery.secrets.keys import KeyAlgorithm
from kiln.machinery.secrets.pki import CertificateAuthority, IssuedCertificate, Usage

CLIENT_VALIDITY = timedelta(days=365)


def default_common_name(role: Role) -> str:
    """``os:admin`` → ``admin``, ``os:etcd:backup`` → ``etcd-backup``."""
    return role.value.removeprefix("os:").replace(":", "-")


def issue_client_certificate(
    os_ca: CertificateAuthority,
    role: Role,
    *,
    common_name: str | None = None,
    valid_for: timedelta = CLIENT_VALIDITY,
    now: datetime | None = None,
) -> IssuedCertificate:
    """A new ECDSA P-256 key and a client certificate from the OS CA granting ``role``."""
    return os_ca.issue(
        common_name or default_common_name(role),
        Usage.CLIENT,
        valid_for,
        organizations=[role.value],
        algorithm=KeyAlgorithm.ECDSA_P256,
        now=now,
    )
