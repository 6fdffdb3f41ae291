"""Carrying out an ApplyConfiguration plan on a running boot: store, apply live, stage, try.

The applier knows the config in effect (:attr:`ConfigApplier.running`: None in maintenance
mode, a tried config while a try is pending). Applies are serialised. A config that needs a
reboot is stored only once the node has drained (:mod:`.k8s_drain`). A tried config is applied
live and never stored until it is confirmed; when its timeout passes first, the stored config
is applied again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kiln.errors import KilnError
from kiln.machined.apply.modes import Action as ApplyAction
from kiln.machined.apply.plan import ApplyPlan, ApplyRequest, plan
from kiln.machined.apply.store import ConfigStore
from kiln.machined.errors import NodeStateError
from kiln.machined.events import EventBus, EventType
from kiln.machined.node.env import Action, RequestAction
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.drain import DrainOptions

logger = logging.getLogger(__name__)

Publish = Callable[[MachineConfig], Awaitable[None]]
Install = Callable[[MachineConfig], Awaitable[None]]
Drain = Callable[[str, DrainOptions], Awaitable[None]]


class ConfigApplier:
    def __init__(
        self,
        *,
        store: ConfigStore,
        events: EventBus,
        platform: Mode,
        running: MachineConfig | None,
        publish: Publish,
        request: RequestAction,
        install: Install | None = None,
        drain: Drain | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.platform = platform
        self.running = running
        self._publish = publish
        self._request = request
        self._install = install  # a maintenance-mode metal node installs to disk first
        self._drain = drain  # before a reboot; DrainError: nothing stored, no reboot
        self._lock = asyncio.Lock()
        self._trial: asyncio.Task[None] | None = None
        self._trial_deadline = 0.0

    @property
    def trial_pending(self) -> bool:
        return self._trial is not None and not self._trial.done()

    async def apply(self, request: ApplyRequest) -> ApplyPlan:
        async with self._lock:
            if self.trial_pending:
                left = self._trial_deadline - asyncio.get_running_loop().time()
                raise NodeStateError(
                    f"a config applied in try mode is pending ({max(left, 0):.0f}s left): "
                    "confirm it or let it revert first"
                )
            planned = plan(request, running=self.running, platform=self.platform)
            if request.dry_run:
                return planned
            await self._carry_out(planned, request.drain)
            return planned

    async def _carry_out(self, planned: ApplyPlan, drain: DrainOptions) -> None:
        decision, config = planned.decision, planned.config
        action = decision.action
        if action is ApplyAction.STAGE:
            self.store.stage(config)
            self._event(f"config staged for the next boot ({decision.mode})")
            return
        if action is ApplyAction.TRY:
            await self._go_live(config)
            self._start_trial(decision.try_timeout)
            self._event(f"config applied in try mode for {decision.try_timeout:g}s")
            return
        if action is ApplyAction.REBOOT and self._drain is not None:
            await self._drain("reboot", drain)
        if self.running is None and self._install is not None:
            await self._install(config)
        self.store.save(config)
        if action is ApplyAction.LIVE:
            await self._go_live(config)
            self._event(f"config applied ({decision.mode}: {decision.details})")
        elif action is ApplyAction.REBOOT:
            self._event(f"config applied ({decision.mode}); rebooting")
            self._request(Action.REBOOT, "a config was applied that needs a reboot")
        else:
            self._event("config applied; leaving maintenance mode")
            self._request(Action.REBOOT, "a config was applied in maintenance mode")

    async def confirm(self) -> None:
        async with self._lock:
            if not self.trial_pending or self.running is None:
                raise NodeStateError("no config applied in try mode is pending")
            self.store.save(self.running)
            self._stop_trial()
            self._event("config tried is confirmed and stored")

    async def close(self) -> None:
        """Forget a pending try (the stored config is what the next boot uses)."""
        if self._trial is not None:
            self._trial.cancel()
            await asyncio.wait({self._trial})
            self._trial = None

    async def _go_live(self, config: MachineConfig) -> None:
        await self._publish(config)
        self.running = config

    def _start_trial(self, timeout: float) -> None:
        self._trial_deadline = asyncio.get_running_loop().time() + timeout
        self._trial = asyncio.create_task(self._revert_after(timeout), name="config try timeout")

    def _stop_trial(self) -> None:
        if self._trial is not None:
            self._trial.cancel()
            self._trial = None

    async def _revert_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        async with self._lock:
            self._trial = None
            try:
                stored = self.store.load()
                if stored is not None:
                    await self._publish(stored)
            except (KilnError, OSError) as err:
                logger.error("cannot revert the config tried: %s", err)
                self._request(Action.REBOOT, "the config tried could not be reverted live")
                return
            self.running = stored
            self._event(f"config tried was not confirmed in {seconds:g}s: reverted")

    def _event(self, message: str) -> None:
        logger.info("%s", message)
        self.events.publish(EventType.CONFIG, message)
