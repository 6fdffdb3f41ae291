"""Client certificates of a role, from a cluster's OS CA, for the calls the hub relays for a
user (:mod:`~kiln.hub.api.machine_proxy`): the machine then applies its own authorization and
redaction to the user's role (a reader's key never sees a secret), not to the hub's admin
certificate. Kept in memory per cluster and role, and issued again well before they expire.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from kiln.hub import clock
from kiln.hub.resources import ClusterSecretsSpec
from kiln.machinery.client import MutualTLS
from kiln.machinery.kilnconfig import issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle

VALIDITY = timedelta(hours=24)
RENEW_BEFORE = timedelta(hours=1)


class RoleCertificates:
    def __init__(self) -> None:
        self._issued: dict[tuple[str, Role], tuple[MutualTLS, datetime]] = {}

    def for_role(self, cluster: str, secrets: ClusterSecretsSpec, role: Role) -> MutualTLS:
        """A client certificate granting ``role`` on the machines of ``cluster``
        (SecretsError if the cluster's secrets cannot issue one)."""
        digest = hashlib.sha256(secrets.ca.encode()).hexdigest()  # a new CA: new certificates
        key = (f"{cluster}/{digest}", role)
        now = clock.now()
        found = self._issued.get(key)
        if found is not None and found[1] - now > RENEW_BEFORE:
            return found[0]
        bundle = SecretsBundle.from_yaml(secrets.bundle, f"cluster {cluster} secrets")
        tls = MutualTLS.of(issue_context(bundle.os_ca, role, valid_for=VALIDITY, now=now))
        self._issued[key] = (tls, now + VALIDITY)
        return tls
