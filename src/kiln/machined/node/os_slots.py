"""The node's A/B slots through a boot (metal mode, installed disk): settled and published at
boot, the booted slot marked good once the node runs, the other slot written by an upgrade,
or chosen by hand for a rollback. On a node that does not run from an installed disk, the
upgrade and rollback calls are refused and nothing is published."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.machined.errors import UnsupportedError
from kiln.machined.events import EventType
from kiln.machined.node.env import NodeEnv
from kiln.machinery.config import MachineConfig, Mode
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
    def __init__(self, env: NodeEnv, publish: Publish) -> None:
        self._env = env
        self._publish = publish
        self._disk: BootDisk | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if self._env.options.mode is not Mode.METAL:
            return
        from kiln.machined.platform.metal import slots  # metal only

        mountinfo, cmdline = await asyncio.to_thread(_read, "/proc/self/mountinfo", "/proc/cmdline")
        self._disk = slots.find(mountinfo, cmdline)
        if self._disk is None:
            return
        spec = await asyncio.to_thread(slots.settle, self._disk)
        if spec.rolled_back:
            other = "B" if spec.active == "A" else "A"
            self._event(f"slot {other} failed to boot: rolled back to slot {spec.active}")
        await self._publish(spec)

    async def healthy(self) -> None:
        """The node runs: the booted slot is good (a counted entry loses its counter)."""
        if self._disk is None:
            return
        from kiln.machined.platform.metal import slots  # metal only

        async with self._lock:
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
                extra = config.machine_config.machine.install.extra_kernel_args if config else []
                cmdline = " ".join([str(found.get("cmdline", "")), *extra]).strip()
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

    def _event(self, message: str) -> None:
        logger.info("%s", message)
        self._env.events.publish(EventType.SLOT, message)


def _read(*paths: str) -> list[str]:
    return [Path(p).read_text() for p in paths]
