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
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from kiln.hub.controllers.clusters.machine_steps import MachineSteps, Outcome, UpdateSlots
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterMachineStatusSpec,
    ClusterSecretsSpec,
    ClusterSpec,
    MachineStatusSpec,
)
from kiln.hub.resources.cluster_machine_status import MachinePhase
from kiln.machinery.health.checks import Dialer
from kiln.machinery.secrets import SecretsBundle
from kiln.resources import Controller, Input, Output, Phase, ReconcileContext, Resource

REQUEUE = 2.0
STEP_TIMEOUT = 150.0  # a bootstrap may take two minutes


class ClusterMachineStatusController(Controller):
    name = "clusters.ClusterMachineStatusController"

    def __init__(self, dial: Dialer) -> None:
        self._steps = MachineSteps(dial)

    def inputs(self) -> Sequence[Input]:
        return [
            Input.of(ClusterMachineSpec),
            Input.of(ClusterSpec),
            Input.of(ClusterSecretsSpec),
            Input.of(MachineStatusSpec),
        ]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(ClusterMachineStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        machines = {m.id: m.spec for m in await ctx.reader.list(MachineStatusSpec)}
        clusters = {c.id: c for c in await ctx.reader.list(ClusterSpec)}
        secrets = {s.id: s.spec for s in await ctx.reader.list(ClusterSecretsSpec)}
        statuses = {s.id: s.spec for s in await ctx.reader.list(ClusterMachineStatusSpec)}
        slots = _slots(await ctx.reader.list(ClusterMachineSpec), clusters, statuses)
        jobs: dict[str, asyncio.Task[Outcome]] = {}
        held: list[Resource[ClusterMachineSpec]] = []
        for cm in await ctx.reader.list(ClusterMachineSpec):
            status = statuses.get(cm.id) or ClusterMachineStatusSpec(cluster=cm.spec.cluster)
            cluster = clusters.get(cm.spec.cluster)
            bundle = secrets.get(cm.spec.cluster)
            machine = machines.get(cm.id)
            if cm.metadata.phase is Phase.TEARING_DOWN:
                if self.name not in cm.metadata.finalizers:
                    continue
                deleting = cluster is None or cluster.metadata.phase is Phase.TEARING_DOWN
                work = self._steps.release(cm.id, machine, status, graceful=not deleting)
            elif cluster is None or bundle is None:
                continue  # the secrets come next
            else:
                if self.name not in cm.metadata.finalizers:
                    await ctx.add_finalizer(cm.pointer)
                loaded = SecretsBundle.from_yaml(bundle.bundle, f"cluster {cluster.id} secrets")
                slot = slots.get((cm.spec.cluster, cm.spec.set_name))
                if slot is None:
                    continue  # its set left the template: it is about to be released
                work = self._steps.converge(
                    cm.spec, cm.id, machine, status, cluster.spec, loaded, slot
                )
            held.append(cm)
            jobs[cm.id] = asyncio.create_task(
                _bounded(work, status), name=f"cluster machine {cm.id}"
            )
        if jobs:
            await asyncio.wait(jobs.values())
        unsettled = False
        for cm in held:
            outcome = jobs[cm.id].result()
            await ctx.modify(Resource.new(cm.id, outcome.status))
            if outcome.released:
                await ctx.remove_finalizer(cm.pointer)
            unsettled = unsettled or not (outcome.settled or outcome.released)
        for cm_id in statuses.keys() - jobs.keys():
            found = await ctx.reader.find(ClusterMachineSpec, cm_id)
            if found is not None:  # released, waiting to be destroyed: keep its last status
                ctx.touched.add(Resource.new(cm_id, statuses[cm_id]).pointer)
        await ctx.cleanup_outputs(ClusterMachineStatusSpec)
        if unsettled:
            ctx.requeue_after(REQUEUE)


async def _bounded(work: Coroutine[Any, Any, Outcome], status: ClusterMachineStatusSpec) -> Outcome:
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            return await work
    except TimeoutError:
        failed = status.model_copy(
            update={"phase": MachinePhase.FAILED, "message": f"no answer in {STEP_TIMEOUT:g}s"}
        )
        return Outcome(failed)


def _slots(
    allocated: list[Resource[ClusterMachineSpec]],
    clusters: dict[str, Resource[ClusterSpec]],
    statuses: dict[str, ClusterMachineStatusSpec],
) -> dict[tuple[str, str], UpdateSlots]:
    """Per (cluster, set): maxParallelism less the machines taking a changed config."""
    slots: dict[tuple[str, str], UpdateSlots] = {}
    for cluster in clusters.values():
        for machine_set in cluster.spec.template.machine_sets():
            busy = sum(
                1
                for cm in allocated
                if cm.spec.cluster == cluster.id
                and cm.spec.set_name == machine_set.set_name
                and (status := statuses.get(cm.id)) is not None
                and status.updating
            )
            free = machine_set.update_strategy.max_parallelism - busy
            key = (cluster.id, machine_set.set_name)
            slots[key] = UpdateSlots(machine_set.set_name, free)
    return slots
