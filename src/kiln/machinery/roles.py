"""Client roles of the machine API, carried as the Organization of a client certificate.

The client writes the role into the certificate it is issued (``kilnctl gen config``,
``kilnctl config new``); the server reads it back from the peer certificate to decide which
methods the caller may use. Both sides use this one list.

:data:`IMPERSONATOR` is not a role a person holds: it is the Organization of the client
certificate a control-plane node dials other nodes with when it forwards a call, and lets that
node name the roles of the caller it forwards for (:mod:`kiln.machinery.forwarding`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

IMPERSONATOR = "os:impersonator"


class Role(StrEnum):
    """A role a client certificate grants; its value is the certificate's Organization."""

    ADMIN = "os:admin"  # everything, including secrets and destructive operations
    OPERATOR = "os:operator"  # day-2 operations (reboot, upgrade, etcd snapshot), no secrets
    READER = "os:reader"  # read-only, secrets redacted
    ETCD_BACKUP = "os:etcd:backup"  # etcd snapshots only

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (``os:admin`` or just ``admin``); ValueError if unknown."""
        wanted = text if text.startswith("os:") else f"os:{text}"
        for role in cls:
            if role.value == wanted:
                return role
        known = ", ".join(role.value for role in cls)
        raise ValueError(f"unknown role {text!r} (known: {known})")

    @classmethod
    def from_organizations(cls, organizations: Iterable[str]) -> frozenset[Role]:
        """The known roles among a certificate's Organization values; unknown ones are ignored."""
        known = {role.value: role for role in cls}
        return frozenset(known[org] for org in organizations if org in known)
