"""Make a context's client credentials from the cluster's OS CA."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from kiln.machinery.kilnconfig.model import Context
from kiln.machinery.roles import Role
from kiln.machinery.secrets.client import CLIENT_VALIDITY, issue_client_certificate
from kiln.machinery.secrets.pki import CertificateAuthority


def issue_context(
    os_ca: CertificateAuthority,
    role: Role,
    *,
    endpoints: Sequence[str] = (),
    nodes: Sequence[str] = (),
    valid_for: timedelta = CLIENT_VALIDITY,
    now: datetime | None = None,
) -> Context:
    """A context with a fresh client certificate granting ``role``, trusting ``os_ca``."""
    issued = issue_client_certificate(os_ca, role, valid_for=valid_for, now=now)
    return Context(
        endpoints=list(endpoints),
        nodes=list(nodes),
        ca=os_ca.certificate.to_b64(),
        crt=issued.certificate.to_b64(),
        key=issued.key.to_b64(),
    )
