"""ClusterMachineStatus: how far a cluster machine is (config applied, etcd bootstrapped,
reset), written by the lifecycle controller; it is also what makes its work restart-safe."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition


class MachinePhase(StrEnum):
    WAITING = "waiting"  # for the machine to connect, or to reach a stage
    CONFIGURING = "configuring"  # its config was sent; it boots with it
    RUNNING = "running"  # configured with the current config, stage running
    RESETTING = "resetting"  # being released: reset asked, back to maintenance soon
    FAILED = "failed"  # the last step failed; retried (message says why)


@definition(
    "ClusterMachineStatus",
    namespace=namespaces.CLUSTERS,
    aliases=("clustermachinestatuses", "cms"),
    print_columns=(
        PrintColumn("Cluster", "cluster"),
        PrintColumn("Phase", "phase"),
        PrintColumn("Message", "message"),
    ),
    description="What the hub did to a cluster machine and how far it is.",
)
class ClusterMachineStatusSpec(Spec):
    cluster: str
    phase: MachinePhase = MachinePhase.WAITING
    message: str = ""
    config_hash: str = ""  # of the config last applied
    applied_at: datetime | None = None
    live: bool = False  # the machine runs its last config without a reboot
    bootstrapped: bool = False
    updating: bool = False  # a changed config or Kiln version was sent to it running; it
    # counts against its set's maxParallelism until it runs again
    reset_at: datetime | None = None
    # A Kiln upgrade, recorded before the image is sent (so it is never sent twice): the
    # version and image sent, the version it ran then, and when.
    upgrade_version: str = ""
    upgrade_image: str = ""
    upgrade_from: str = ""
    upgraded_at: datetime | None = None
    paused: str = ""  # why the rollout stopped at this machine (until the template changes)
    template: str = ""  # the fingerprint of the cluster's template its last step was for
