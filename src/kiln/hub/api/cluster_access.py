"""ClusterAccessService: what ``kiln-hub kilnconfig`` checks before it writes a kilnconfig
(the caller's role, the cluster's machines), and the admin kubeconfigs ``kiln-hub kubeconfig``
gets, minted here from the cluster's Kubernetes CA with a short-lived client certificate.

The hub does not proxy the Kubernetes API: a kubeconfig's server is the cluster's endpoint,
which the user must reach. Authorization and the audit happen around each handler
(:mod:`~kiln.hub.api.access`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kiln.hub.api.access import CALLER
from kiln.hub.api.cluster_nodes import ClusterNodes
from kiln.hub.errors import InvalidRequestError, NotReadyError
from kiln.hub.resources import ClusterSecretsSpec
from kiln.machinery.api import hubcluster_pb2, hubcluster_pb2_grpc
from kiln.machinery.errors import MachineryError
from kiln.machinery.kubernetes import kubeconfig
from kiln.machinery.secrets import Certificate, SecretsBundle
from kiln.resources import NotFoundError, Pointer, State, cast_spec

DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=365)
MIN_TTL = timedelta(minutes=1)


class ClusterAccessService(hubcluster_pb2_grpc.ClusterAccessServiceServicer):
    def __init__(self, state: State, nodes: ClusterNodes) -> None:
        self._state = state
        self._nodes = nodes

    async def CheckAccess(self, request: Any, context: Any) -> Any:
        view = await self._nodes.view(request.id)
        nodes = [
            hubcluster_pb2.ClusterNode(
                uuid=node.uuid,
                hostname=node.hostname,
                address=node.address,
                machine_type=node.machine_type.value,
                bootstrap=node.bootstrap,
            )
            for node in view.nodes
        ]
        role = CALLER.get().role.value
        return hubcluster_pb2.ClusterAccessResponse(role=role, endpoint=view.endpoint, nodes=nodes)

    async def Kubeconfig(self, request: Any, context: Any) -> Any:
        ttl = timedelta(seconds=request.ttl_seconds) if request.ttl_seconds else DEFAULT_TTL
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise InvalidRequestError(
                f"ttl {ttl}: a kubeconfig's certificate lives between {MIN_TTL} and {MAX_TTL.days} "
                "days"
            )
        view = await self._nodes.view(request.id)
        if not view.endpoint:
            raise NotReadyError(f"cluster {view.name} has no Kubernetes API endpoint yet")
        try:
            found = await self._state.get(Pointer.of(ClusterSecretsSpec, view.name))
        except NotFoundError:
            raise NotReadyError(f"cluster {view.name} has no secrets yet") from None
        secrets = cast_spec(found, ClusterSecretsSpec).spec
        try:
            bundle = SecretsBundle.from_yaml(secrets.bundle, f"cluster {view.name} secrets")
            ca = bundle.certs.k8s.authority("the cluster's Kubernetes CA")
            user = await asyncio.to_thread(kubeconfig.admin, ca, view.name, view.endpoint, ttl)
            expires = Certificate.from_pem(user.cert_pem, "kubeconfig").not_after
        except MachineryError as exc:
            raise InvalidRequestError(f"cluster {view.name}: {exc}") from None
        return hubcluster_pb2.ClusterKubeconfigResponse(
            kubeconfig=kubeconfig.render(user).encode(), expires_unix=int(expires.timestamp())
        )
