"""The container provisioner: a local cluster of ``kiln-machined --mode container`` processes,
each on its own loopback address, made by the steps of :mod:`kiln.provision.creating`.

::

    provisioner = ContainerProvisioner(progress=print)
    record = await provisioner.create(ClusterRequest("demo", controlplanes=3, workers=1,
                                                     kilnconfig=Path("~/.kiln/config")))
    view = await provisioner.show("demo")
    await provisioner.destroy("demo")

A create that fails leaves its state (and any daemons it started) for ``destroy`` to remove.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiln.machinery.privatefile import ensure_private_dir
from kiln.provision import contexts, daemons
from kiln.provision.creating import CreateStep, Creating, create_steps
from kiln.provision.errors import (
    ClusterExistsError,
    ClusterNotFoundError,
    ProvisionError,
    StepError,
)
from kiln.provision.record import ClusterRecord, NodeRecord, load_record, record_path
from kiln.provision.request import ClusterRequest, cluster_dir
from kiln.provision.steps import Progress, ProgressCallback, Runner, Status, ignore_progress

STOP_STEP = "stop node"
PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class NodeView:
    """A node as ``show`` sees it: its record, whether the daemon runs and its API listens,
    and services its supervisor left running."""

    node: NodeRecord
    alive: bool
    listening: bool
    leftovers: tuple[str, ...]


@dataclass(frozen=True)
class ClusterView:
    record: ClusterRecord
    nodes: tuple[NodeView, ...]


@dataclass(frozen=True)
class Destroyed:
    """What ``destroy`` did: each node's stop, the kilnconfig context, the state removed."""

    name: str
    stopped: tuple[daemons.Stopped, ...]
    context: str
    state_dir: Path


class ContainerProvisioner:
    """Creates, shows and destroys container-mode clusters under ``state_root``."""

    kind = "container"  # what its records say (ClusterRecord.provisioner)

    def __init__(
        self,
        progress: ProgressCallback = ignore_progress,
        *,
        state_root: Path | None = None,
        startup_timeout: float = 30.0,
        health_timeout: float = 180.0,
    ) -> None:
        self.progress = progress
        self.state_root = state_root
        self.startup_timeout = startup_timeout
        self.health_timeout = health_timeout

    async def create(self, request: ClusterRequest) -> ClusterRecord:
        """Make the cluster (see the module docstring); its record. ClusterExistsError if the
        name is taken; StepError naming the step that failed."""
        if request.state_root is None:
            request = dataclasses.replace(request, state_root=self.state_root)
        directory = request.state_dir
        if record_path(directory).exists() or (directory.is_dir() and any(directory.iterdir())):
            raise ClusterExistsError(
                f"cluster {request.name} exists already (its state is in {directory}); "
                "destroy it first"
            )
        ensure_private_dir(directory)
        record = ClusterRecord(name=request.name, state_dir=str(directory), provisioner=self.kind)
        record.save()
        try:
            await Runner(Creating(request, record), self.progress).run(self.steps(request))
        except StepError as err:
            hint = f"the cluster's state stays in {directory}; destroying the cluster removes it"
            raise StepError(err.step, err.message, node=err.node, hint=hint) from err
        record.complete = True
        record.save()
        return record

    async def show(self, name: str) -> ClusterView:
        record = self._load(name)
        views = []
        for node in record.nodes:
            alive = daemons.is_running(node)
            listening = await _listening(node) if alive else False
            leftovers = tuple(daemons.leftover_services(record, node)) if not alive else ()
            views.append(NodeView(node, alive, listening, leftovers))
        return ClusterView(record, tuple(views))

    async def destroy(self, name: str) -> Destroyed:
        """Stop every node (daemon, then what it left running), remove the kilnconfig context
        and the state directory. ProvisionError, keeping the state, if a process survives."""
        directory = cluster_dir(name, self.state_root)
        if not record_path(directory).exists() and directory.is_dir():
            await asyncio.to_thread(shutil.rmtree, directory)  # a create that never recorded
            return Destroyed(name, (), "no cluster record; nothing was started", directory)
        record = self._load(name)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._stop(record, node), name=f"stop {node.name}")
                for node in record.nodes
            ]
        stopped = tuple(task.result() for task in tasks)
        survivors = [s.node for s in stopped if s.daemon == "survived SIGKILL"]
        if survivors:
            raise ProvisionError(
                f"cluster {name}: the daemons of {', '.join(survivors)} survived SIGKILL; "
                f"kept the state in {directory}"
            )
        await self.teardown(record)
        context = contexts.remove_context(record)
        await asyncio.to_thread(shutil.rmtree, directory)
        return Destroyed(name, stopped, context, directory)

    def steps(self, request: ClusterRequest) -> list[CreateStep]:
        if request.pool:
            raise ProvisionError("a pool of machines is made of VMs (the qemu provisioner)")
        return create_steps(self.startup_timeout, self.health_timeout)

    async def teardown(self, record: ClusterRecord) -> None:
        """What remains once the nodes are stopped (nothing for container-mode nodes)."""

    async def _stop(self, record: ClusterRecord, node: NodeRecord) -> daemons.Stopped:
        self.progress(Progress(STOP_STEP, Status.RUNNING, node.name))
        stopped = await daemons.stop(record, node)
        also = f"; also stopped {', '.join(stopped.leftovers)}" if stopped.leftovers else ""
        self.progress(Progress(STOP_STEP, Status.DONE, node.name, stopped.daemon + also))
        return stopped

    def _load(self, name: str) -> ClusterRecord:
        directory = cluster_dir(name, self.state_root)
        try:
            return load_record(directory)
        except ClusterNotFoundError:
            raise ClusterNotFoundError(f"no cluster named {name} (in {directory.parent})") from None


async def _listening(node: NodeRecord) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            _, writer = await asyncio.open_connection(node.address, node.api_port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True
