"""Every controller the hub runs, in one list."""

from __future__ import annotations

from kiln.hub.controllers.clusters.cluster_machine import ClusterMachineController
from kiln.hub.controllers.clusters.cluster_machine_status import ClusterMachineStatusController
from kiln.hub.controllers.clusters.cluster_secrets import ClusterSecretsController
from kiln.hub.controllers.clusters.cluster_status import ClusterStatusController
from kiln.hub.controllers.inventory.machine_status import MachineStatusController
from kiln.machinery.health.checks import Dialer
from kiln.machinery.osimage.artifact_cache import ArtifactCache
from kiln.resources import Controller


def hub_controllers(dial: Dialer, images: ArtifactCache | None = None) -> list[Controller]:
    """``dial`` opens a client of a machine's API by UUID (through its hub connection);
    ``images`` keeps the artifacts of images the hub downloads to upgrade machines."""
    return [
        MachineStatusController(),
        ClusterSecretsController(),  # a synced cluster's secrets, made once
        ClusterMachineController(),  # free machines allocated to clusters, released ones let go
        ClusterMachineStatusController(dial, images),  # configs applied, etcd bootstrapped, resets
        ClusterStatusController(dial),  # machines, etcd members and health of each cluster
    ]
