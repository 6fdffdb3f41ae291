"""Cluster: a cluster as its template describes it (``kiln-hub template sync``), by name.

Written by the hub's API for its users (owner ""); controllers hold it with a finalizer until
its machines are released, so ``template delete`` tears it down and the API destroys it once
nothing holds it any more.
"""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.hub.templates.model import ClusterTemplate
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition


@definition(
    "Cluster",
    namespace=namespaces.CLUSTERS,
    aliases=("clusters",),
    print_columns=(
        PrintColumn(
            "Kubernetes",
            lambda r: (
                r.spec.template.cluster.kubernetes.version
                if r.spec.template.cluster.kubernetes
                else "default"
            ),
        ),
        PrintColumn("Control planes", lambda r: r.spec.template.control_plane.size),
        PrintColumn("Workers", lambda r: sum(w.size for w in r.spec.template.workers)),
    ),
    description="A cluster as its template describes it.",
)
class ClusterSpec(Spec):
    template: ClusterTemplate
