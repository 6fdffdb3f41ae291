"""ClusterMachineStatusController: ClusterMachine (+ its Cluster, ClusterSecrets and the
machine's MachineStatus) → ClusterMachineStatus, driving each machine through the hub's
tunnel (:mod:`.machine_steps`): its config applied in maintenance mode, then over the
cluster's mutual TLS; etcd bootstrapped on the bootstrap machine; a released machine reset
(gracefully, leaving etcd, when its cluster stays; wiped when the cluster is deleted) until
it is back in maintenance mode, when this controller's finalizer lets the ClusterMachine go.

What each machine got is in its status (the hash of its config, when it was sent, whether
etcd was bootstrapped, when a reset was asked), so a hub that restarts, or a machine that
disconnects halfway, goes on from there. Machines are driven concurrently; the controller
comes back every :data:`REQUEUE` seconds while one is not settled.

A changed config or Kiln version reaches machines that run in the order of :mod:`.rollout`
(control planes one at a time, then workers by their set's maxParallelism; locked machines
passed over; a failed upgrade pauses it); a Kiln upgrade is recorded before its image is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from kiln.errors import KilnError
from kiln.hub.controllers.clusters import machine_upgrade, rollout
from kiln.hub.controllers.clusters.concerns import concerns, statuses_of
from kiln.hub.controllers.clusters.machine_steps import (
    MAINTENANCE,
    Desired,
    MachineSteps,
    Outcome,
    Turn,
)
from kiln.hub.controllers.clusters.machine_upgrade import Record
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterMachineStatusSpec,
    ClusterSecretsSpec,
    ClusterSpec,
    MachineLabelsSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.cluster_machine_status import MachinePhase
from kiln.hub.resources.machine_status import LOCKED_LABEL
from kiln.machinery.config.model import MachineType
from kiln.machinery.health.checks import Dialer
from kiln.machinery.osimage.artifact_cache import ArtifactCache
from kiln.machinery.secrets import SecretsBundle
from kiln.resources import Controller, Input, Output, Phase, ReconcileContext, Resource

REQUEUE = 2.0
STEP_TIMEOUT = 270.0  # a bootstrap may take two minutes; an upgrade, a stream and a drain


class ClusterMachineStatusController(Controller):
    name = "clusters.ClusterMachineStatusController"

    def __init__(self, dial: Dialer, images: ArtifactCache | None = None) -> None:
        self._steps = MachineSteps(dial, images)

    def inputs(self) -> Sequence[Input]:
        return [
            Input.of(ClusterMachineSpec),
            Input.of(ClusterSpec),
            Input.of(ClusterSecretsSpec),
            Input.of(MachineStatusSpec),
            Input.of(MachineLabelsSpec),
        ]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(ClusterMachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        allocated = await ctx.reader.list(ClusterMachineSpec)
        holding = {cm.id for cm in allocated}
        if not concerns(ctx.changed, holding):
            ctx.skip()  # machines not settled are still driven when their requeue falls due
            return
        machines = await statuses_of(ctx, holding)
        clusters = {c.id: c for c in await ctx.reader.list(ClusterSpec)}
        secrets = {s.id: s.spec for s in await ctx.reader.list(ClusterSecretsSpec)}
        statuses = {s.id: s.spec for s in await ctx.reader.list(ClusterMachineStatusSpec)}
        # The lock as the user set it (a status's labels follow a moment later).
        locked = set()
        for uuid in holding:
            labels = await ctx.reader.find(MachineLabelsSpec, uuid)
            if labels is not None and LOCKED_LABEL in labels.spec.labels:
                locked.add(uuid)
        jobs: dict[str, asyncio.Task[Outcome]] = {}
        held: list[Resource[ClusterMachineSpec]] = []
        made_for: dict[str, str] = {}  # the template each converging machine's step is for
        plans = _Plans(allocated, clusters, secrets, machines, statuses, locked)
        for cm in allocated:
            status = plans.status(cm)
            cluster = clusters.get(cm.spec.cluster)
            found = machines.get(cm.id)
            machine = found.spec if found else None
            latest = _Latest(status)
            if cm.metadata.phase is Phase.TEARING_DOWN:
                if self.name not in cm.metadata.finalizers:
                    continue
                deleting = cluster is None or cluster.metadata.phase is Phase.TEARING_DOWN
                work = self._steps.release(cm.id, machine, status, graceful=not deleting)
            elif cluster is None or cm.spec.cluster not in secrets:
                continue  # the secrets come next
            else:
                if self.name not in cm.metadata.finalizers:
                    await ctx.add_finalizer(cm.pointer)
                desired = plans.desired.get(cm.id)
                if desired is not None:
                    made_for[cm.id] = cluster.spec.template.fingerprint()
                if isinstance(desired, KilnError):
                    failed = status.model_copy(
                        update={"phase": MachinePhase.FAILED, "message": f"its config: {desired}"}
                    )
                    work = _now(Outcome(failed, settled=True))
                elif desired is None:
                    continue  # its set left the template: it is about to be released
                else:
                    turn = plans.turn(cm)
                    record = _recorder(ctx, cm.id, latest)
                    work = self._steps.converge(
                        cm.spec, cm.id, machine, status, desired, turn, record
                    )
            held.append(cm)
            jobs[cm.id] = asyncio.create_task(
                _bounded(work, latest), name=f"cluster machine {cm.id}"
            )
        if jobs:
            await asyncio.wait(jobs.values())
        unsettled = False
        for cm in held:
            outcome = jobs[cm.id].result()
            status = outcome.status
            if cm.id in made_for:
                status = status.model_copy(update={"template": made_for[cm.id]})
            await ctx.modify(Resource.new(cm.id, status))
            if outcome.released:
                await ctx.remove_finalizer(cm.pointer)
            unsettled = unsettled or not (outcome.settled or outcome.released)
        for cm_id in statuses.keys() - jobs.keys():
            found_cm = await ctx.reader.find(ClusterMachineSpec, cm_id)
            if found_cm is not None:  # released, waiting to be destroyed: keep its last status
                ctx.touched.add(Resource.new(cm_id, statuses[cm_id]).pointer)
        await ctx.cleanup_outputs(ClusterMachineStatusSpec)
        if unsettled:
            ctx.requeue_after(REQUEUE)


class _Latest:
    """A machine's status as last written during its step (what a timeout keeps)."""

    def __init__(self, status: ClusterMachineStatusSpec) -> None:
        self.status = status


def _recorder(ctx: ReconcileContext, uuid: str, latest: _Latest) -> Record:
    async def record(status: ClusterMachineStatusSpec) -> None:
        await ctx.modify(Resource.new(uuid, status))
        latest.status = status

    return record


async def _now(outcome: Outcome) -> Outcome:
    return outcome


async def _bounded(work: Coroutine[Any, Any, Outcome], latest: _Latest) -> Outcome:
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            return await work
    except TimeoutError:
        failed = latest.status.model_copy(
            update={"phase": MachinePhase.FAILED, "message": f"no answer in {STEP_TIMEOUT:g}s"}
        )
        return Outcome(failed)


class _Plans:
    """Every allocated machine's desired config and version, and each cluster's rollout
    turns (:mod:`.rollout`), from one listing of the inputs."""

    def __init__(
        self,
        allocated: list[Resource[ClusterMachineSpec]],
        clusters: dict[str, Resource[ClusterSpec]],
        secrets: dict[str, ClusterSecretsSpec],
        machines: dict[str, Resource[MachineStatusSpec]],
        statuses: dict[str, ClusterMachineStatusSpec],
        locked: set[str],
    ) -> None:
        self._clusters = clusters
        self._statuses = statuses
        self.desired: dict[str, Desired | KilnError] = {}
        loaded = {
            name: SecretsBundle.from_yaml(bundle.bundle, f"cluster {name} secrets")
            for name, bundle in secrets.items()
            if name in clusters
        }
        members: dict[str, list[rollout.Member]] = {}
        for cm in allocated:
            cluster = clusters.get(cm.spec.cluster)
            bundle = loaded.get(cm.spec.cluster)
            if cm.metadata.phase is not Phase.RUNNING or cluster is None or bundle is None:
                continue
            sets = {s.set_name for s in cluster.spec.template.machine_sets()}
            if cm.spec.set_name not in sets:
                continue
            try:
                desired = Desired.of(cm.spec, cm.id, cluster.spec, bundle)
            except KilnError as err:
                self.desired[cm.id] = err
                continue
            self.desired[cm.id] = desired
            member = _member(cm, machines.get(cm.id), self.status(cm), desired, cm.id in locked)
            members.setdefault(cm.spec.cluster, []).append(member)
        self._turns = {
            name: rollout.turns(found, _parallelism(clusters[name].spec))
            for name, found in members.items()
        }

    def status(self, cm: Resource[ClusterMachineSpec]) -> ClusterMachineStatusSpec:
        """The machine's status; a pause for a version or image no longer asked is lifted."""
        status = self._statuses.get(cm.id) or ClusterMachineStatusSpec(cluster=cm.spec.cluster)
        cluster = self._clusters.get(cm.spec.cluster)
        kiln = cluster.spec.template.cluster.kiln if cluster else None
        if machine_upgrade.outdated_pause(status, kiln):
            status = machine_upgrade.cleared(status).model_copy(update={"updating": False})
        return status

    def turn(self, cm: Resource[ClusterMachineSpec]) -> Turn:
        turns = self._turns.get(cm.spec.cluster)
        if turns is None:
            return Turn(False, "no rollout yet")
        return Turn(turns.allows(cm.id), turns.waiting.get(cm.id, ""))


def _member(
    cm: Resource[ClusterMachineSpec],
    found: Resource[MachineStatusSpec] | None,
    status: ClusterMachineStatusSpec,
    desired: Desired,
    locked: bool,
) -> rollout.Member:
    machine = found.spec if found else None
    runs = bool(status.config_hash) and machine is not None and machine.stage != MAINTENANCE
    behind = runs and (
        status.config_hash != desired.hash
        or (machine is not None and desired.kiln_behind(machine) and not status.upgrade_version)
    )
    return rollout.Member(
        uuid=cm.id,
        set_name=cm.spec.set_name,
        control_plane=cm.spec.machine_type is MachineType.CONTROLPLANE,
        behind=behind,
        busy=status.updating,
        locked=locked,
        paused=status.paused,
    )


def _parallelism(cluster: ClusterSpec) -> dict[str, int]:
    sets = cluster.template.machine_sets()
    return {s.set_name: s.update_strategy.max_parallelism for s in sets}
