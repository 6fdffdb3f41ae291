"""ClusterSecretsController: Cluster → ClusterSecrets, made once per cluster and kept until
the cluster is gone (its machines are reset with the certificate they hold)."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.hub.resources import ClusterSecretsSpec, ClusterSpec
from kiln.machinery.client import MutualTLS
from kiln.machinery.kilnconfig import issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle
from kiln.resources import Controller, Input, Output, ReconcileContext, Resource


def new_secrets() -> ClusterSecretsSpec:
    bundle = SecretsBundle.generate()
    tls = MutualTLS.of(issue_context(bundle.os_ca, Role.ADMIN))
    return ClusterSecretsSpec(
        bundle=bundle.to_yaml(), ca=tls.ca.decode(), crt=tls.crt.decode(), key=tls.key.decode()
    )


class ClusterSecretsController(Controller):
    name = "clusters.ClusterSecretsController"

    def inputs(self) -> Sequence[Input]:
        return [Input.of(ClusterSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(ClusterSecretsSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        for cluster in await ctx.reader.list(ClusterSpec):
            found = await ctx.reader.find(ClusterSecretsSpec, cluster.id)
            if found is None:
                await ctx.create(Resource.new(cluster.id, new_secrets()))
            else:
                ctx.touched.add(found.pointer)
        await ctx.cleanup_outputs(ClusterSecretsSpec)
