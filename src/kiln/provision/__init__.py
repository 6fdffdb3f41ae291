"""Local clusters: provisioners that start Kiln nodes as processes (container) or VMs (qemu).

::

    provisioner = ContainerProvisioner(progress=on_progress, state_root=Path("/tmp/clusters"))
    await provisioner.create(ClusterRequest("demo", controlplanes=3, workers=1))
    await provisioner.destroy("demo")

Errors are drawn in :mod:`kiln.provision.errors`; progress is reported through a callback
(:class:`Progress`), never printed here.
"""

from kiln.provision.container import ClusterView, ContainerProvisioner, Destroyed, NodeView
from kiln.provision.daemons import Stopped
from kiln.provision.errors import (
    ClusterExistsError,
    ClusterNotFoundError,
    ProvisionError,
    StepError,
)
from kiln.provision.record import ClusterRecord, NodeRecord
from kiln.provision.request import ClusterRequest, NodeRole, default_state_root
from kiln.provision.steps import Progress, ProgressCallback, Status

__all__ = [
    "ClusterExistsError",
    "ClusterNotFoundError",
    "ClusterRecord",
    "ClusterRequest",
    "ClusterView",
    "ContainerProvisioner",
    "Destroyed",
    "NodeRecord",
    "NodeRole",
    "NodeView",
    "Progress",
    "ProgressCallback",
    "ProvisionError",
    "Status",
    "StepError",
    "Stopped",
    "default_state_root",
]
