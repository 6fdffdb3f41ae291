"""The node: a sequencer that boots, serves until asked to reboot, shut down or reset, and
does so, over and over, for the life of the process.

::

    node = Node(NodeOptions(Mode.CONTAINER, Path("/var/lib/kiln")))
    loop.add_signal_handler(signal.SIGTERM, node.request_shutdown)
    await node.run()          # returns after a shutdown

Phases (logged and published as events): initialize, then for every boot load config, boot,
running, and one of reboot, shutdown or reset. In container mode a reboot restarts the
node's runtime in place: this boot's services, controllers and API stop and a new boot starts
from the stored config.
"""

from __future__ import annotations

import asyncio
import logging

from kiln.machined.api.identity import maintenance_identity
from kiln.machined.apply.store import ConfigStore, wipe_directory
from kiln.machined.controllers import HostSeams
from kiln.machined.early import EarlyApi
from kiln.machined.errors import MachinedError, NodeStateError, UnsupportedError
from kiln.machined.events import EventBus, EventType
from kiln.machined.node.boot import Boot
from kiln.machined.node.env import Action, NodeEnv
from kiln.machined.node.hub import NodeHub
from kiln.machined.node.logsink import ServiceLogHandler
from kiln.machined.node.options import NodeOptions
from kiln.machined.node.phases import Phase, phase
from kiln.machined.platform import host
from kiln.machined.statefiles import HUB_DIR, MAINTENANCE_DIR
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.hubjoin import load_hub_join
from kiln.machinery.privatefile import ensure_private_dir
from kiln.machinery.resources import Stage, node_registry

logger = logging.getLogger(__name__)

_STOP = {
    Action.REBOOT: (Phase.REBOOT, Stage.REBOOTING),
    Action.SHUTDOWN: (Phase.SHUTDOWN, Stage.SHUTTING_DOWN),
    Action.RESET: (Phase.RESET, Stage.RESETTING),
}


class Node:
    """The node daemon's sequencer (see the module docstring)."""

    def __init__(
        self,
        options: NodeOptions,
        *,
        host_seams: HostSeams | None = None,
        early: EarlyApi | None = None,
    ) -> None:
        if options.mode is Mode.CLOUD:
            raise UnsupportedError("cloud mode is not implemented yet (use container or metal)")
        self.options = options
        self.events = EventBus()
        self.log = ServiceLogHandler(options.state_dir / "logs")
        self.env = NodeEnv(
            options=options,
            store=ConfigStore(options.configs),
            events=self.events,
            registry=node_registry(),
            host=host_seams or HostSeams(host.system_hostname, host.local_addresses),
            log=self.log,
        )
        self._early = early  # the first boot takes it over
        self._pending: asyncio.Future[Action] | None = None
        self._shutdown = False
        self.boot: Boot | None = None
        from_file = load_hub_join(options.hub_join) if options.hub_join is not None else None
        self.hub = NodeHub(self.env, lambda: self.boot, from_file)
        self.last_action: Action | None = None

    def request_shutdown(self) -> None:
        """Shut down gracefully (SIGTERM): end the current boot, then return from :meth:`run`."""
        self._shutdown = True
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(Action.SHUTDOWN)

    def _request(self, action: Action, reason: str) -> None:
        pending = self._pending
        if pending is None or pending.done():
            busy = pending.result().value if pending is not None and pending.done() else "busy"
            raise NodeStateError(f"the node is already going to {busy}")
        logger.info("%s: %s", action.value, reason)
        pending.set_result(action)

    async def run(self) -> None:
        """Boot, serve, and handle reboots and resets until a shutdown."""
        try:
            await self._boots()
        finally:
            early, self._early = self._early, None
            if early is not None:  # never reached a boot
                await early.stop()

    async def _boots(self) -> None:
        async with phase(Phase.INITIALIZE, self.events, str(self.options.state_dir)):
            ensure_private_dir(self.options.state_dir)
            maintenance_identity(self.options.state_dir)
        try:
            while True:
                async with phase(Phase.LOAD_CONFIG, self.events):
                    config = self._load_config()
                await self.hub.follow(config)
                action = self.last_action = await self._serve(config)
                if action is Action.SHUTDOWN or self._shutdown:
                    return
                if action is Action.REBOOT and self.options.mode is Mode.METAL:
                    if self._reboot_keeps_config():
                        return  # the host reboots (kiln.machined.platform.metal.runner)
                    logger.info(
                        "the state is in memory and nothing was installed: rebooting the "
                        "node daemon, not the machine, so that the config is kept"
                    )
        finally:
            await self.hub.close()

    def _reboot_keeps_config(self) -> bool:
        """Whether the config survives the machine rebooting: the state is on a disk, or the
        config names the disk it was just installed to (and kept on)."""
        if host.survives_reboot(self.options.state_dir):
            return True
        config = self.env.store.load()
        return config is not None and config.machine_config.machine.install.disk is not None

    def _load_config(self) -> MachineConfig | None:
        store = self.env.store
        if store.promote_staged():
            logger.info("the staged config takes effect")
            self.events.publish(EventType.CONFIG, "staged config takes effect")
        config = store.load()
        if config is None:
            logger.info("no config: maintenance mode")
        return config

    async def _serve(self, config: MachineConfig | None) -> Action:
        """One boot from start to stop; the action that ended it."""
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[Action] = loop.create_future()
        self._pending = pending
        if self._shutdown:
            pending.set_result(Action.SHUTDOWN)
        early, self._early = self._early, None
        self.boot = boot = Boot(self.env, config, self._request, early)
        action = Action.SHUTDOWN
        try:
            detail = "maintenance mode" if config is None else "configured"
            async with phase(Phase.BOOT, self.events, detail):
                await boot.start()
            async with phase(Phase.RUNNING, self.events):
                action = await pending
        finally:
            stop_phase, stage = _STOP[action]
            async with phase(stop_phase, self.events):
                await boot.stop(stage)
                if action is Action.RESET:
                    self._wipe()
            self.boot = None
        if boot.failure is not None:
            raise MachinedError(boot.failure)
        return action

    def _wipe(self) -> None:
        """Everything in the state (and config) directory goes, except the maintenance
        identity and the link to a hub (the hub knows the machine by it: a reset machine goes
        back to its free pool); on an installed machine, what EPHEMERAL and STATE hold."""
        self.log.log.close()
        try:
            self.env.store.wipe(keep={MAINTENANCE_DIR, HUB_DIR})
            if self.options.config_dir is not None:
                wipe_directory(self.options.state_dir, keep={MAINTENANCE_DIR, HUB_DIR})
        except OSError as exc:
            raise MachinedError(f"reset: cannot wipe {self.options.state_dir}: {exc}") from exc
        finally:
            self.log.reopen()
        logger.info("state directory wiped")
