"""ClusterSecrets: a cluster's secrets bundle, made once when the cluster is first synced, and
the OS admin client certificate the hub calls the cluster's machines with. Sensitive."""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import definition


@definition(
    "ClusterSecrets",
    namespace=namespaces.CLUSTERS,
    sensitive=True,
    description="A cluster's secrets bundle and the hub's admin client certificate for it.",
)
class ClusterSecretsSpec(Spec):
    bundle: str  # the secrets bundle's YAML
    ca: str  # PEM: the OS CA certificate
    crt: str  # PEM: an os:admin client certificate from it
    key: str  # PEM
