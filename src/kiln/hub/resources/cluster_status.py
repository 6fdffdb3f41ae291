"""ClusterStatus: a cluster's machines, etcd members and health as the hub last saw them
(``kiln-hub template status``)."""

from __future__ import annotations

from pydantic import Field

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition


class MachineSummary(Spec):
    uuid: str
    set_name: str
    machine_type: str
    hostname: str = ""
    address: str = ""
    connected: bool = False
    stage: str = ""
    phase: str = ""
    message: str = ""
    releasing: bool = False
    bootstrap: bool = False  # etcd was bootstrapped here; its address is the endpoint


class HealthCheck(Spec):
    name: str
    node: str = ""
    ok: bool
    reason: str = ""


@definition(
    "ClusterStatus",
    namespace=namespaces.CLUSTERS,
    aliases=("clusterstatuses",),
    print_columns=(
        PrintColumn("Phase", "phase"),
        PrintColumn("Machines", lambda r: f"{r.spec.running}/{r.spec.desired}"),
        PrintColumn("Healthy", "healthy"),
    ),
    description="A cluster's machines, etcd members and health.",
)
class ClusterStatusSpec(Spec):
    phase: str = ""  # allocating, configuring, running, deleting
    endpoint: str = ""  # the Kubernetes API URL its machines' configs name
    desired: int = 0
    running: int = 0
    machines: list[MachineSummary] = Field(default_factory=list)
    waiting_for: list[str] = Field(default_factory=list)  # what allocation waits for
    etcd_members: list[str] = Field(default_factory=list)
    checks: list[HealthCheck] = Field(default_factory=list)
    healthy: bool = False
    rollout: str = ""  # "rollout paused: machine <uuid>: <reason>" while a rollout is stopped
    template: str = ""  # the fingerprint of the template every machine's step was made for
