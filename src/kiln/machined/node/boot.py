"""One boot of the node: its state, controllers, services and API, from start to stop.

A boot without a config is maintenance mode: the state and controllers run (the machine status
says why it is not ready), the API serves only what maintenance mode allows, no service runs.
A boot is what the API works with (:class:`~kiln.machined.api.control.NodeControl`); the
sequencer (:mod:`kiln.machined.node.node`) makes a new one for every reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from kiln.machined.api.control import MachineHardware
from kiln.machined.api.etcd_control import EtcdControl
from kiln.machined.apply.plan import ApplyPlan, ApplyRequest
from kiln.machined.controllers import node_controllers
from kiln.machined.early import EarlyApi
from kiln.machined.errors import DrainError, InvalidRequestError, NodeStateError
from kiln.machined.events import EventBus, EventType
from kiln.machined.node import etcd_setup, k8s_controlplane, logsink
from kiln.machined.node.applying import ConfigApplier, Install
from kiln.machined.node.certify import obtain_identity, trust_address
from kiln.machined.node.env import Action, NodeEnv, RequestAction
from kiln.machined.node.etcd_member import NodeEtcd
from kiln.machined.node.etcd_publish import EtcdMemberPublisher
from kiln.machined.node.k8s_manifests import ClusterManifests
from kiln.machined.node.k8s_node import NodeKubernetes, kubelet_version
from kiln.machined.node.os_slots import NodeSlots, SlotChange
from kiln.machined.node.publish import NodePublisher
from kiln.machined.node.service_bridge import ServiceBridge
from kiln.machined.node.serving import BootServers, issues_own_certificate
from kiln.machined.platform import host
from kiln.machined.services import ServiceLog, ServiceStatus, Supervisor
from kiln.machined.state import NamespacedState, open_node_state
from kiln.machined.statefiles import HUB_DIR
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.drain import DrainOptions
from kiln.machinery.resources import Stage
from kiln.resources import ControllerRuntime, Registry, State

logger = logging.getLogger(__name__)

RUNTIME_TASK = "controller runtime"
JOIN_TASK = "api certificate"
UPGRADE_TASK = "kubernetes upgrade"
FIRST_PASS_WAIT = 5.0  # the API serves once the controllers made their first outputs, or this


class Boot:
    """One boot; see the module docstring. ``request`` ends it (reboot, shutdown, reset)."""

    def __init__(
        self,
        env: NodeEnv,
        config: MachineConfig | None,
        request: RequestAction,
        early: EarlyApi | None = None,
    ) -> None:
        self.env = env
        self._maintenance = config is None
        self._request = request
        self.closing = asyncio.Event()
        self._state: NamespacedState = open_node_state(env.options.state_dir, env.registry)
        self._publisher = NodePublisher(self._state)
        self.applier = ConfigApplier(
            store=env.store,
            events=env.events,
            platform=env.options.mode,
            running=config,
            publish=self._config_live,
            request=request,
            install=_installer(env),
            drain=self._drain,
        )
        self.slots = NodeSlots(env, self._publisher.boot_slots, request)
        self._runtime = ControllerRuntime(self._state, node_controllers(env.host))
        self._bridge = ServiceBridge(self._state, env.events)
        self._supervisor = Supervisor(env.options.state_dir, self._bridge)
        self._tasks: list[asyncio.Task[Any]] = []
        self._servers = BootServers(self, env, early)
        self._etcd: NodeEtcd | None = None
        self._control_plane: k8s_controlplane.NodeControlPlane | None = None
        self._kubernetes: NodeKubernetes | None = None
        self._uuid = ""
        self.failure: str | None = None  # why a task of this boot failed, ending it

    # Start and stop -----------------------------------------------------------------------------

    async def start(self) -> None:
        stage = Stage.MAINTENANCE if self._maintenance else Stage.BOOTING
        self._uuid = await self._publisher.identity()
        await self._publisher.version(host.versions())
        await self._set_stage(stage, "boot")
        await self.slots.start()
        if self.env.options.mode is Mode.METAL:
            from kiln.machined.platform.metal import pid1  # metal only

            await self._publisher.mounts(await asyncio.to_thread(pid1.mount_status))
        config = self.applier.running
        if config is not None:
            await self._publisher.config(config)
        self._spawn(self._runtime.run(), RUNTIME_TASK)
        self._spawn(self._bridge.run(), "service status bridge")
        with contextlib.suppress(TimeoutError):  # a failing controller says so in its status
            await asyncio.wait_for(self._runtime.ran_once(), FIRST_PASS_WAIT)
        await self._supervisor.cleanup_stale()
        if config is not None and etcd_setup.runs_etcd(config):
            addresses = self.env.host.addresses()
            prepare = functools.partial(
                etcd_setup.prepare, config, self.env.options, self.name, addresses
            )
            publisher = EtcdMemberPublisher(self._state)
            self._etcd = NodeEtcd(prepare, self._supervisor, self._spawn, publisher)
            await self._etcd.start()
            if k8s_controlplane.runs_control_plane(config):
                self._control_plane = k8s_controlplane.NodeControlPlane(
                    config,
                    self._etcd.setup,
                    self.name,
                    self.env.options.state_dir,
                    self._supervisor,
                    self._spawn,
                )
                await self._control_plane.start()
        if config is not None:
            await self._start_kubernetes_node(config)
        if config is None:
            await self._servers.start_maintenance()
        elif issues_own_certificate(config):
            await self._servers.start_controlplane(config)
            await self._run()
        else:
            self._spawn(self._join(config), JOIN_TASK)

    async def _start_kubernetes_node(self, config: MachineConfig) -> None:
        try:
            address = etcd_setup.node_address(self.env.options, self.env.host.addresses())
        except NodeStateError as exc:
            logger.error("no Kubernetes node services: %s", exc)
            return
        manifests = None
        if self._etcd is not None and self._control_plane is not None:
            secrets = self.env.options.state_dir / k8s_controlplane.SECRETS_DIR
            manifests = ClusterManifests(config, self.name, address, secrets, self._etcd)
        self._kubernetes = NodeKubernetes(
            config,
            self.name,
            address,
            self.env.options.state_dir,
            self._supervisor,
            self._spawn,
            self.env.events,
            manage_routes=self.env.options.mode is Mode.METAL,
            shares_host=self.env.options.mode is Mode.CONTAINER,
            local_addresses=self.env.host.addresses,
            manifests=manifests,
        )
        await self._kubernetes.start()

    async def _config_live(self, config: MachineConfig) -> None:
        """A config applied live: published, the cluster manifests synced again where it changes
        them, and a new Kubernetes version rolled out."""
        before = self.applier.running
        await self._publisher.config(config)
        if self._kubernetes is not None:
            self._kubernetes.config_applied(config)
        if before is not None:
            self._spawn(self._upgrade_kubernetes(before, config), UPGRADE_TASK)

    async def _upgrade_kubernetes(self, before: MachineConfig, config: MachineConfig) -> None:
        control_plane = k8s_controlplane.config_version
        if self._control_plane is not None and control_plane(before) != control_plane(config):
            await self._control_plane.upgrade(config)
        if self._kubernetes is None:
            return
        if kubelet_version(before) != kubelet_version(config):
            await self._kubernetes.upgrade(config)
        elif control_plane(before) != control_plane(config):
            await self._kubernetes.prefetch(config)  # the kubelet follows later

    async def _join(self, config: MachineConfig) -> None:
        """A worker serves and runs once a control-plane node has signed its API certificate."""
        address = trust_address(config, self.env.options.trust_port)
        identity = await obtain_identity(config, self._servers.names(), address, self._waiting)
        await self._servers.start_worker(identity)
        await self._run()

    async def _waiting(self, what: str) -> None:
        await self._publisher.stage(Stage.BOOTING, "boot", waiting=what)

    async def _run(self) -> None:
        if self.slots.health_broken:
            logger.error("this image was built never to become healthy (--break-health)")
            await self._waiting("nothing: this image was built never to become healthy")
            return
        self._supervisor.load(*self.env.options.extra_services)
        for spec in self.env.options.extra_services:
            await self._supervisor.start(spec.name)
        await self._set_stage(Stage.RUNNING, "boot")
        await self.slots.healthy()

    async def stop(self, stage: Stage) -> None:
        """Stop the API (in-flight calls finish), services, controllers; close the state."""
        await self._set_stage(stage, stage.value)
        self.closing.set()
        await self.slots.close()
        for task in self._tasks:
            if task.get_name() == JOIN_TASK and not task.done():
                task.cancel()  # a worker still waiting for its certificate, or starting
                await asyncio.wait({task})
        await self._servers.stop()
        await self.applier.close()
        if self._kubernetes is not None:
            await self._kubernetes.close()
        if self._control_plane is not None:
            await self._control_plane.close()
        if self._etcd is not None:
            await self._etcd.close()
        await self._supervisor.close()
        await self._runtime.stop()
        self._bridge.close()
        for task in self._tasks:
            if task.get_name() == RUNTIME_TASK and not task.done():
                task.cancel()  # stopped before it began to run: stop() had nothing to stop
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._state.close()

    async def _set_stage(self, stage: Stage, phase: str) -> None:
        await self._publisher.stage(stage, phase)
        self.env.events.publish(EventType.STAGE, f"stage {stage.value}")

    def _spawn(self, work: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self.failure = f"task {task.get_name()} failed: {task.exception()}"
        logger.error("%s", self.failure)
        with contextlib.suppress(NodeStateError):  # already ending
            self._request(Action.SHUTDOWN, self.failure)

    # NodeControl --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        config = self.applier.running
        hostname = config.machine_config.machine.network.hostname if config else None
        if hostname:
            return hostname
        if self.env.options.api_host_is_specific:
            return self.env.options.api_host
        return self.env.host.hostname()

    @property
    def maintenance(self) -> bool:
        return self._maintenance

    @property
    def uuid(self) -> str:
        """The machine's UUID ("" until the boot has started)."""
        return self._uuid

    @property
    def state(self) -> State:
        return self._state

    @property
    def registry(self) -> Registry:
        return self.env.registry

    @property
    def events(self) -> EventBus:
        return self.env.events

    async def apply_configuration(self, request: ApplyRequest) -> ApplyPlan:
        return await self.applier.apply(request)

    async def confirm_configuration(self) -> None:
        await self.applier.confirm()

    async def _drain(self, action: str, options: DrainOptions) -> None:
        """Cordon and drain the node's Kubernetes node before ``action`` (see
        :mod:`.k8s_drain`); DrainError leaves the node as it was."""
        if self._kubernetes is not None:
            await self._kubernetes.drainer.drain(action, options)

    async def reboot(self, drain: DrainOptions) -> None:
        await self._drain("reboot", drain)
        self._request(Action.REBOOT, "requested through the API")

    async def shutdown(self, drain: DrainOptions) -> None:
        await self._drain("shutdown", drain)
        self._request(Action.SHUTDOWN, "requested through the API")

    async def reset(self, *, graceful: bool, drain: DrainOptions) -> None:
        if graceful:
            await self._drain("reset", drain)
        if graceful and self._etcd is not None:
            await self._etcd.leave_for_reset()
        self._request(Action.RESET, "requested through the API")

    async def upgrade(
        self,
        manifest: bytes,
        signature: bytes,
        chunks: AsyncIterator[tuple[str, bytes]],
        *,
        stay: bool,
        drain: DrainOptions,
    ) -> SlotChange:
        change = await self.slots.upgrade(manifest, signature, chunks, self.applier.running)
        if not stay:
            try:
                await self._drain("upgrade", drain)
            except DrainError as exc:
                raise DrainError(
                    f"{exc} (Kiln OS {change.version} is written to slot {change.slot} and "
                    "boots at the next reboot)"
                ) from None
            self._request(Action.REBOOT, f"upgraded to {change.version} in slot {change.slot}")
        return change

    async def rollback(self) -> SlotChange:
        change = await self.slots.rollback()
        self._request(Action.REBOOT, f"rolling back to slot {change.slot}")
        return change

    def services(self) -> list[ServiceStatus]:
        return self._supervisor.statuses()

    async def service_action(self, name: str, action: str) -> ServiceStatus:
        if action == "start":
            return await self._supervisor.start(name)
        if action == "stop":
            return await self._supervisor.stop(name)
        if action == "restart":
            return await self._supervisor.restart(name)
        raise InvalidRequestError(f"unknown service action {action!r}")

    def service_log(self, name: str) -> ServiceLog:
        if name == logsink.NAME:
            return self.env.log.log
        return self._supervisor.logs(name)

    @property
    def etcd(self) -> EtcdControl | None:
        return self._etcd

    async def kubeconfig(self) -> bytes:
        config = self.applier.running
        if config is None or not k8s_controlplane.runs_control_plane(config):
            raise NodeStateError(
                "only a control-plane node holds the Kubernetes CA: ask one for a kubeconfig"
            )
        return await asyncio.to_thread(k8s_controlplane.admin_kubeconfig, config)

    def versions(self) -> host.Versions:
        return host.versions()

    async def hardware(self) -> MachineHardware:
        found = await asyncio.to_thread(host.hardware)
        mode = self.env.options.mode
        # Containers share the host's product UUID: each node has its own identity instead.
        uuid = self._uuid if mode is Mode.CONTAINER else found.product_uuid or self._uuid
        return MachineHardware(found, uuid, mode.value)


def _installer(env: NodeEnv) -> Install | None:
    """How a maintenance-mode node installs to disk: only in metal mode, and only when it is
    not running from an installed disk already (its config then lives on STATE)."""
    if env.options.mode is not Mode.METAL or env.options.config_dir is not None:
        return None
    from kiln.machined.platform.metal import install  # metal only

    return install.carrying(env.options.state_dir, (HUB_DIR,))
