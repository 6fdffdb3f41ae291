"""The node's A/B slots through a boot (metal mode, installed disk): settled and published at
boot, the booted slot marked good once the node runs, the other slot written by an upgrade,
or chosen by hand for a rollback. On a node that does not run from an installed disk, the
upgrade and rollback calls are refused and nothing is published.

A boot from a slot on trial (its entry still counted) must reach running within the
deadline its entry carries (:mod:`kiln.machinery.osimage.trial`), counted from the kernel's
start: if it does not, the node records why on the ESP, says so in an event and reboots;
with the entry's tries spent, the firmware boots the previous slot, which reports the
rollback and the reason. A thread reboots outright if that orderly reboot does not happen
(:mod:`kiln.machined.platform.metal.backstop`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.errors import KilnError
from kiln.machined.errors import NodeStateError, UnsupportedError
from kiln.machined.events import EventType
from kiln.machined.node.env import Action, NodeEnv, RequestAction
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.config.types import parse_duration
from kiln.machinery.osimage import trial
from kiln.machinery.resources import BootSlotsSpec

if TYPE_CHECKING:
    from kiln.machined.platform.metal.slots import BootDisk

logger = logging.getLogger(__name__)

UPLOAD_DIR = "upgrade"  # under the state directory (EPHEMERAL)
Publish = Callable[[BootSlotsSpec], Awaitable[None]]


@dataclass(frozen=True)
class SlotChange:
    slot: str
    version: str
    seconds: float = 0.0


class NodeSlots:
    def __init__(self, env: NodeEnv, publish: Publish, request: RequestAction) -> None:
        self._env = env
        self._publish_spec = publish
        self._rolled_back = False  # this boot: the firmware fell back to this slot
        self._request = request
        self._disk: BootDisk | None = None
        self._lock = asyncio.Lock()
        self._deadline: asyncio.Task[None] | None = None
        self.health_broken = False  # a test image built never to become healthy

    async def start(self) -> None:
        if self._env.options.mode is not Mode.METAL:
            return
        from kiln.machined.platform.metal import cmdline, slots  # metal only

        mountinfo, proc_cmdline = await asyncio.to_thread(
            _read, "/proc/self/mountinfo", "/proc/cmdline"
        )
        self.health_broken = trial.health_broken(proc_cmdline.split())
        self._disk = slots.find(mountinfo, proc_cmdline)
        if self._disk is None:
            return
        spec = await asyncio.to_thread(slots.settle, self._disk)
        self._rolled_back = spec.rolled_back
        if spec.rolled_back:
            other = next(s for s in spec.slots if s.slot != spec.active)
            reason = other.failure or slots.FAILED_TO_BOOT
            self._event(f"slot {other.slot} {reason}: rolled back to slot {spec.active}")
        await self._publish(spec)
        if slots.on_trial(spec):
            seconds = trial.health_timeout(cmdline.arguments(proc_cmdline))
            self._arm(self._disk, seconds)

    def _arm(self, disk: BootDisk, seconds: float) -> None:
        from kiln.machined.platform.metal.backstop import BACKSTOP  # metal only

        BACKSTOP.arm(seconds)
        self._deadline = asyncio.create_task(
            self._give_up_after(disk, seconds), name="slot health deadline"
        )

    async def _give_up_after(self, disk: BootDisk, seconds: float) -> None:
        from kiln.machined.platform.metal import backstop, slots  # metal only

        logger.info("slot %s is on trial: it must run within %gs of boot", disk.booted, seconds)
        await asyncio.sleep(max(0.0, seconds - backstop.uptime()))
        reason = f"did not become healthy within {seconds:g}s"
        async with self._lock:
            try:
                await asyncio.to_thread(slots.give_up, disk, reason)
            except (OSError, KilnError) as exc:  # the reboot matters more than the record
                logger.error(
                    "slot %s: could not record why it is given up on: %s", disk.booted, exc
                )
        self._event(f"slot {disk.booted} {reason}: rebooting to fall back to the previous slot")
        with contextlib.suppress(NodeStateError):  # already ending: the reboot follows
            self._request(Action.REBOOT, f"slot {disk.booted} {reason}")

    async def close(self) -> None:
        """The boot ends: no deadline of this boot's (the backstop stays armed)."""
        if self._deadline is not None and not self._deadline.done():
            self._deadline.cancel()
            await asyncio.wait({self._deadline})

    async def healthy(self) -> None:
        """The node runs: the booted slot is good (a counted entry loses its counter)."""
        if self._disk is None:
            return
        from kiln.machined.platform.metal import slots  # metal only
        from kiln.machined.platform.metal.backstop import BACKSTOP  # metal only

        async with self._lock:
            if self._deadline is not None:
                if self._deadline.done():
                    return  # given up on: the reboot is under way
                self._deadline.cancel()
            BACKSTOP.disarm()
            changed, spec = await asyncio.to_thread(slots.mark_good, self._disk)
        if changed:
            self._event(f"slot {self._disk.booted} booted and runs: marked good")
        await self._publish(spec)

    def _require(self) -> BootDisk:
        if self._disk is None:
            raise UnsupportedError(
                "only a node running from an installed disk (metal mode) has A/B slots"
            )
        return self._disk

    async def upgrade(
        self,
        manifest: bytes,
        signature: bytes,
        chunks: AsyncIterator[tuple[str, bytes]],
        config: MachineConfig | None,
    ) -> SlotChange:
        """Check and write the image streamed in ``chunks`` to the other slot."""
        disk = self._require()
        from kiln.machined.platform.metal import slots, upload  # metal only

        started = time.monotonic()
        async with self._lock:
            receiver = upload.ImageUpload(
                self._env.options.state_dir / UPLOAD_DIR,
                await asyncio.to_thread(upload.trusted_key),
            )
            found = await asyncio.to_thread(receiver.begin, manifest, signature)
            version = str(found.get("version", "?"))
            try:
                async for name, data in chunks:
                    await asyncio.to_thread(receiver.write, name, data)
                await asyncio.to_thread(receiver.finish)
                cmdline = _slot_cmdline(str(found.get("cmdline", "")), config)
                guid = await slots.other_slot_guid(disk)
                slot = await asyncio.to_thread(
                    slots.write_other, disk, receiver.directory, version, cmdline, guid
                )
            finally:
                await asyncio.to_thread(receiver.discard)
            spec = await asyncio.to_thread(slots.read, disk)
        await self._publish(spec)
        seconds = time.monotonic() - started
        self._event(f"Kiln OS {version} written to slot {slot} in {seconds:.1f}s")
        return SlotChange(slot, version, seconds)

    async def rollback(self) -> SlotChange:
        disk = self._require()
        from kiln.machined.platform.metal import slots  # metal only

        async with self._lock:
            info = await asyncio.to_thread(slots.rollback, disk)
        self._event(f"rolling back to slot {info.slot} ({info.version})")
        return SlotChange(info.slot, info.version)

    async def _publish(self, spec: BootSlotsSpec) -> None:
        """Publish ``spec``, saying all through this boot whether it rolled back."""
        await self._publish_spec(spec.model_copy(update={"rolled_back": self._rolled_back}))

    def _event(self, message: str) -> None:
        logger.info("%s", message)
        self._env.events.publish(EventType.SLOT, message)


def _slot_cmdline(image_cmdline: str, config: MachineConfig | None) -> str:
    """A new slot's kernel command line: the image's, the config's extra arguments and the
    deadline of its trial boot."""
    install = config.machine_config.machine.install if config else None
    timeout = trial.DEFAULT_HEALTH_TIMEOUT
    if install is not None:
        timeout = parse_duration(install.upgrade_health_timeout).total_seconds()
    extra = install.extra_kernel_args if install is not None else []
    return " ".join([image_cmdline, *extra, trial.health_timeout_arg(timeout)]).strip()


def _read(*paths: str) -> list[str]:
    return [Path(p).read_text() for p in paths]
