"""This control-plane node's Kubernetes control plane through one boot.

Once the node has its config, the three services are loaded as waiting (``kilnctl services``
says for what) while a background task gets the binaries of ``cluster.kubernetes.version``
(:mod:`kiln.machined.kubernetes.artifacts`, tried again with growing delays while the source
cannot be reached), issues the component certificates and writes the config files. Then the
real services are loaded and started; kube-apiserver waits for etcd by its dependency.

A version whose binaries fail verification is never run: the node stays on the version it ran
before (``current.json`` of the cache) and logs why; with no earlier version the services keep
waiting and say so. Files live in the node's state directory::

    <state>/kubernetes/artifacts     the content-addressed binary cache
    <state>/kubernetes/config        encryption config, audit policy, audit log
    <state>/secrets/kubernetes       certificates, keys, kubeconfigs
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiln.machined.errors import NodeStateError
from kiln.machined.kubernetes import pki
from kiln.machined.kubernetes.artifacts import (
    CONTROL_PLANE_BINARIES,
    ArtifactCache,
    ArtifactLocation,
    host_arch,
)
from kiln.machined.kubernetes.controlplane import (
    ControlPlaneInputs,
    control_plane_specs,
    write_config_files,
)
from kiln.machined.kubernetes.errors import (
    ArtifactError,
    ArtifactVerificationError,
    KubernetesError,
)
from kiln.machined.kubernetes.pki import write_control_plane_files
from kiln.machined.kubernetes.versions import compatibility
from kiln.machined.node.etcd_setup import EtcdSetup
from kiln.machined.services import ServiceError, ServiceSpec, ServiceState, Supervisor
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.model import MachineType
from kiln.machinery.kubernetes import services as names
from kiln.machinery.kubernetes.kubeconfig import render

logger = logging.getLogger(__name__)

TASK_NAME = "kubernetes control plane"
RETRY_INITIAL = 2.0
RETRY_CAP = 60.0
ROLL_TIMEOUT = 180.0  # a cold apiserver on 2 busy cores
ARTIFACTS_DIR = Path("kubernetes") / "artifacts"
CONFIG_DIR = Path("kubernetes") / "config"
SECRETS_DIR = Path("secrets") / "kubernetes"

Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


def runs_control_plane(config: MachineConfig | None) -> bool:
    if config is None:
        return False
    return config.machine_config.machine.type is MachineType.CONTROLPLANE


@dataclass(frozen=True)
class Resolved:
    version: str
    binaries: Mapping[str, Path]


def resolve_binaries(config: MachineConfig, cache: ArtifactCache) -> Resolved:
    """The verified control-plane binaries of the configured version, or of the version the
    node ran before when the configured one's fail verification; blocking."""
    kubernetes = config.machine_config.cluster.kubernetes
    version = kubernetes.version
    compatibility(version)
    arch = host_arch()
    location = ArtifactLocation.from_config(kubernetes.artifacts)
    try:
        found = cache.fetch(location, version, arch, CONTROL_PLANE_BINARIES)
    except ArtifactVerificationError as refused:
        previous = cache.current()
        if previous is None or previous == version:
            raise
        kept = cache.recorded(previous, arch)
        if not all(name in kept for name in CONTROL_PLANE_BINARIES):
            raise
        logger.error("Kubernetes %s refused: %s; staying on %s", version, refused, previous)
        return Resolved(previous, {name: cache.verify(kept[name]) for name in kept})
    cache.set_current(version)
    return Resolved(version, found)


def admin_kubeconfig(config: MachineConfig) -> bytes:
    """A new admin kubeconfig (``system:masters``, a year) for the cluster's control-plane
    endpoint; blocking."""
    document = config.machine_config
    server = str(document.cluster.control_plane.endpoint).rstrip("/")
    return render(pki.admin_kubeconfig(document, server)).encode()


class NodeControlPlane:
    """See the module docstring."""

    def __init__(
        self,
        config: MachineConfig,
        etcd: Callable[[], Awaitable[EtcdSetup]],
        hostname: str,
        state_dir: Path,
        supervisor: Supervisor,
        spawn: Spawn,
    ) -> None:
        self._config = config
        self._etcd = etcd
        self._hostname = hostname
        self._state_dir = state_dir
        self._supervisor = supervisor
        self._spawn = spawn
        self._cache = ArtifactCache(state_dir / ARTIFACTS_DIR)
        self._task: asyncio.Task[None] | None = None
        self.version: str | None = None

    async def start(self) -> None:
        version = self._config.machine_config.cluster.kubernetes.version
        await self._show_waiting(f"Kubernetes {version} binaries")
        self._task = self._spawn(self._run(), TASK_NAME)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        delay = RETRY_INITIAL
        while True:
            try:
                setup = await self._etcd()
                resolved = await asyncio.to_thread(resolve_binaries, self._config, self._cache)
                inputs = await asyncio.to_thread(self._inputs, resolved, setup)
                break
            except (KubernetesError, NodeStateError) as exc:
                fetching = isinstance(exc, ArtifactError)
                permanent = not fetching or isinstance(exc, ArtifactVerificationError)
                logger.error("the Kubernetes control plane cannot start: %s", exc)
                await self._show_waiting(f"Kubernetes binaries ({exc})" if fetching else str(exc))
                if permanent:
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP)
        self.version = resolved.version
        await self._supervisor.replace(*control_plane_specs(inputs))
        logger.info("Kubernetes %s control plane loaded", resolved.version)

    def _inputs(self, resolved: Resolved, setup: EtcdSetup) -> ControlPlaneInputs:
        document = self._config.machine_config
        address = setup.member.address
        endpoint = urlsplit(str(document.cluster.control_plane.endpoint)).hostname or address
        paths = write_control_plane_files(
            document, self._hostname, address, endpoint, self._state_dir / SECRETS_DIR
        )
        config_dir = self._state_dir / CONFIG_DIR
        try:
            write_config_files(document, config_dir)
        except OSError as exc:
            raise KubernetesError(f"cannot write the Kubernetes config files: {exc}") from exc
        return ControlPlaneInputs(
            document,
            address,
            compatibility(resolved.version),
            resolved.binaries,
            paths,
            setup.member,
            config_dir,
            self._cache,
        )

    async def upgrade(self, config: MachineConfig) -> None:
        """Run the version of ``config``: its binaries fetched and verified first (a refused
        version leaves the running one alone), then kube-apiserver, kube-controller-manager and
        kube-scheduler restarted one at a time, each healthy before the next."""
        self._config = config
        if self.version is None:  # not loaded yet: start over with the new version
            await self.close()
            await self.start()
            return
        try:
            setup = await self._etcd()
            resolved = await asyncio.to_thread(resolve_binaries, config, self._cache)
            if resolved.version == self.version:
                logger.error(
                    "Kubernetes %s refused; the control plane stays", config_version(config)
                )
                return
            inputs = await asyncio.to_thread(self._inputs, resolved, setup)
            await roll(self._supervisor, control_plane_specs(inputs))
        except (KubernetesError, NodeStateError, ServiceError) as exc:
            logger.error("the control plane upgrade stopped: %s", exc)
            return
        self.version = resolved.version
        logger.info("Kubernetes control plane upgraded to %s", resolved.version)

    async def _show_waiting(self, what: str) -> None:
        await show_waiting(self._supervisor, names.CONTROL_PLANE_SERVICES, what)


def config_version(config: MachineConfig) -> str:
    return config.machine_config.cluster.kubernetes.version


async def roll(supervisor: Supervisor, specs: Sequence[ServiceSpec]) -> None:
    """Restart services with new specs one at a time, in order, each running and healthy
    (within :data:`ROLL_TIMEOUT`) before the next; ServiceError when one is not."""
    for spec in specs:
        await supervisor.replace(spec)
        await supervisor.wait_for(
            spec.name, ServiceState.RUNNING, healthy=True, timeout=ROLL_TIMEOUT
        )
        logger.info("%s restarted and healthy", spec.name)


async def show_waiting(supervisor: Supervisor, services: Sequence[str], what: str) -> None:
    """Load ``services`` as placeholders waiting for ``what`` (``kilnctl services`` shows it)."""
    await supervisor.replace(*(ServiceSpec.waiting(name, what) for name in services))
