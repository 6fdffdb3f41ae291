"""Kubernetes client configuration files (kubeconfig) with embedded credentials.

Shared by the node daemon (kubeconfigs of the control-plane components, and an admin's for
``kilnctl kubeconfig``), the hub (an admin's for ``kiln-hub kubeconfig``) and the clients
(merged into an existing file).

::

    text = render(KubeconfigUser("admin@demo", "demo", "https://10.5.0.2:6443", ca, cert, key))
    merged = merge(yaml.safe_load(existing), yaml.safe_load(text))
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

from kiln.machinery.errors import MachineryError
from kiln.machinery.secrets import CertificateAuthority, Usage

#: The group whose members may do anything in the cluster (a cluster admin's certificate).
MASTERS = "system:masters"


class KubeconfigError(MachineryError):
    """A kubeconfig that cannot be read or merged."""


@dataclass(frozen=True)
class KubeconfigUser:
    """One context: a cluster (server and CA) and a user with a client certificate (PEM)."""

    context: str
    cluster: str
    server: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    user: str = ""

    def to_dict(self) -> dict[str, Any]:
        user = self.user or self.context
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": self.cluster,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _b64(self.ca_pem),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": _b64(self.cert_pem),
                        "client-key-data": _b64(self.key_pem),
                    },
                }
            ],
            "contexts": [
                {"name": self.context, "context": {"cluster": self.cluster, "user": user}}
            ],
            "current-context": self.context,
            "preferences": {},
        }


def admin(
    ca: CertificateAuthority,
    cluster: str,
    server: str,
    valid_for: timedelta,
    *,
    user: str = "admin",
    now: datetime | None = None,
) -> KubeconfigUser:
    """A cluster admin's kubeconfig (``system:masters``) with a new client certificate from
    the Kubernetes CA ``ca``, valid for ``valid_for``; MachineryError if it cannot be issued."""
    issued = ca.issue(f"kiln:{user}", Usage.CLIENT, valid_for, organizations=[MASTERS], now=now)
    name = f"{user}@{cluster}"
    return KubeconfigUser(
        name, cluster, server, ca.certificate.pem, issued.certificate.pem, issued.key.pem, name
    )


def render(user: KubeconfigUser) -> str:
    return dump(user.to_dict())


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def merge(existing: object, new: dict[str, Any], source: str = "kubeconfig") -> dict[str, Any]:
    """``existing`` with the clusters, users and contexts of ``new`` added (replacing entries
    of the same name) and ``new``'s current context made current."""
    if existing is None:
        return new
    if not isinstance(existing, dict):
        raise KubeconfigError(f"{source}: not a kubeconfig (expected a mapping)")
    merged = dict(existing)
    for section in ("clusters", "users", "contexts"):
        entries = merged.get(section) or []
        if not isinstance(entries, list):
            raise KubeconfigError(f"{source}: {section} must be a list")
        names = {entry.get("name") for entry in new[section]}
        kept = [e for e in entries if not (isinstance(e, dict) and e.get("name") in names)]
        merged[section] = kept + list(new[section])
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    merged["current-context"] = new["current-context"]
    return merged


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")
