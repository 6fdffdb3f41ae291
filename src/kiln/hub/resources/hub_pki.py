"""HubPki: the hub CA and the server certificate every replica serves, kept in the database
so that all replicas on one database share them (one per hub, id :data:`PKI_ID`)."""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import definition

PKI_ID = "pki"


@definition(
    "HubPki",
    namespace=namespaces.HUB,
    sensitive=True,
    description="The hub CA and server certificate all replicas share.",
)
class HubPkiSpec(Spec):
    ca_crt: str  # PEM
    ca_key: str  # PEM
    server_crt: str  # PEM
    server_key: str  # PEM
