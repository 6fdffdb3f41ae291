"""ClusterMachine: one machine allocated to a cluster (id: the machine's UUID).

Written by the allocation controller; a machine with a ClusterMachine is in a cluster, one
without is free. Tearing one down releases the machine: the lifecycle controller holds it
with a finalizer until the machine is reset and back in maintenance mode.
"""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.machinery.config.model import MachineType
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition

CLUSTER_LABEL = "kiln.dev/cluster"
SET_LABEL = "kiln.dev/machine-set"


@definition(
    "ClusterMachine",
    namespace=namespaces.CLUSTERS,
    aliases=("clustermachines", "cm"),
    print_columns=(
        PrintColumn("Cluster", "cluster"),
        PrintColumn("Set", "setName"),
        PrintColumn("Type", "machineType"),
        PrintColumn("Bootstrap", "bootstrap"),
    ),
    description="A machine allocated to a cluster: its set, type and the cluster's endpoint.",
)
class ClusterMachineSpec(Spec):
    cluster: str
    set_name: str
    machine_type: MachineType
    address: str  # the address its config and the cluster's endpoint use
    endpoint: str  # the cluster's Kubernetes API URL, fixed by its bootstrap machine
    bootstrap: bool = False  # etcd is bootstrapped on this control plane
