"""The A/B slots of the installed disk the node runs from: reading them, settling them at
boot, marking the booted slot good, writing the other slot, switching to it by hand.

Entries and their counters are :mod:`kiln.machinery.osimage.bootentries`; this module finds
the disk, mounts its ESP for each change and writes the slots' partitions. Each function
blocks (run it in a thread).
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from kiln import process
from kiln.machined.errors import NodeStateError
from kiln.machined.platform.metal import blockdev, partmount
from kiln.machinery.osimage import bootentries, layout
from kiln.machinery.osimage.bootentries import SlotInfo, SlotState
from kiln.machinery.resources.runtime.boot_slots import BootSlot, BootSlotsSpec

logger = logging.getLogger(__name__)

TRIES = 1  # boots a new slot gets before the firmware falls back
FAILED_TO_BOOT = "failed to boot"  # a bad slot that recorded no other reason
_GUID = re.compile(r"Partition unique GUID: ([0-9A-Fa-f-]{36})")


@dataclass(frozen=True)
class BootDisk:
    disk: str
    parts: dict[str, str]
    booted: str  # "A" or "B"

    def slot_partition(self, slot: str) -> str:
        return self.parts[layout.BOOT_A if slot == "A" else layout.BOOT_B]


def find(mountinfo: str, cmdline: str) -> BootDisk | None:
    """The installed disk the root was mounted from, or None (booted from the network or a
    bare squashfs disk)."""
    root = blockdev.root_device(mountinfo)
    if not root:
        return None
    disk = blockdev.disk_of(root)
    parts = blockdev.partitions(disk)
    if not {layout.EFI, layout.BOOT_A, layout.BOOT_B} <= set(parts):
        return None
    args = dict(w.partition("=")[::2] for w in cmdline.split())
    booted = args.get("kiln.slot", "")
    if booted not in bootentries.SLOTS:
        booted = "A" if root == parts[layout.BOOT_A] else "B"
    return BootDisk(disk, parts, booted)


def spec(boot: BootDisk, infos: list[SlotInfo], rolled_back: bool) -> BootSlotsSpec:
    """The slots as published. The slot this boot runs from is never bad: a counted entry
    with no tries left that booted is on its trial (until marked good or given up on)."""
    slots = []
    for i in infos:
        state = i.state
        if i.slot == boot.booted and state is SlotState.BAD:
            state = SlotState.TRYING
        failure = i.failure or (FAILED_TO_BOOT if state is SlotState.BAD else "")
        slots.append(
            BootSlot(
                slot=i.slot,
                state=state.value,
                version=i.version,
                preferred=i.preferred,
                failure=failure,
            )
        )
    return BootSlotsSpec(active=boot.booted, rolled_back=rolled_back, slots=slots)


def on_trial(spec: BootSlotsSpec) -> bool:
    """Whether this boot runs from a slot still counted (not yet marked good)."""
    return any(s.slot == spec.active and s.state == SlotState.TRYING.value for s in spec.slots)


def settle(boot: BootDisk) -> BootSlotsSpec:
    """At boot: if the firmware fell back to this slot (the preferred one failed), prefer this
    one again; the slots as they are now."""
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        first = bootentries.preferred(root)
        rolled_back = first is not None and first != boot.booted
        if rolled_back:
            bootentries.prefer(root, boot.booted)
        return spec(boot, bootentries.slots(root), rolled_back)


def give_up(boot: BootDisk, reason: str) -> None:
    """Record why the slot this boot runs from is given up on (it is not marked good: once
    its tries are spent the firmware boots the other slot)."""
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        bootentries.write_failure(root, boot.booted, reason)


def read(boot: BootDisk) -> BootSlotsSpec:
    """The slots as they are (nothing changed)."""
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        return spec(boot, bootentries.slots(root), False)


def mark_good(boot: BootDisk) -> tuple[bool, BootSlotsSpec]:
    """The booted slot is healthy: drop its boot counter (True if it had one)."""
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        changed = bootentries.mark_good(root, boot.booted)
        if changed:
            bootentries.prefer(root, boot.booted)
            bootentries.clear_failure(root, boot.booted)
        return changed, spec(boot, bootentries.slots(root), False)


async def other_slot_guid(boot: BootDisk) -> str:
    """The unique GUID of the partition of the slot this boot does not run from."""
    name = layout.BOOT_B if boot.booted == "A" else layout.BOOT_A
    number = [p.name for p in layout.LAYOUT].index(name) + 1
    done = await process.run(["sgdisk", f"--info={number}", f"/dev/{boot.disk}"], timeout=30)
    found = _GUID.search(done.stdout.decode())
    if found is None:
        raise NodeStateError(f"/dev/{boot.disk}: partition {number} has no GUID")
    return found[1].upper()


def write_other(boot: BootDisk, files: Path, version: str, cmdline: str, guid: str) -> str:
    """Write the slot this boot does not run from (its partition's GUID ``guid``): its entry
    removed first (power lost while writing leaves it unbootable, not half-written), then
    ``files``' rootfs.squashfs raw into its partition, its vmlinuz and initramfs onto the
    ESP, an entry counted for :data:`TRIES` boots and preferred. Returns the slot."""
    target = bootentries.other(boot.booted)
    partition = boot.slot_partition(target)
    root_file = files / "rootfs.squashfs"
    size = root_file.stat().st_size
    if size > blockdev.size_of(partition):
        raise NodeStateError(f"the new root ({size} bytes) does not fit in {partition}")
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        bootentries.remove_entry(root, target)  # a half-written slot must not be booted
    logger.info("slot %s: entry removed, writing its root (%d bytes)", target, size)
    blockdev.copy(str(root_file), partition, size)
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        (root / target).mkdir(exist_ok=True)
        bootentries.clear_failure(root, target)
        for name in ("vmlinuz", "initramfs"):
            shutil.copyfile(files / name, root / target / name)
        bootentries.write_release(root, target, "kiln-os", version)
        text = bootentries.entry_text(target, version, cmdline, f"PARTUUID={guid}", True)
        bootentries.write_entry(root, target, text, tries=TRIES)
        bootentries.prefer(root, target)
    return target


def rollback(boot: BootDisk) -> SlotInfo:
    """Prefer the other slot (it must hold a good image); its info."""
    target = bootentries.other(boot.booted)
    with partmount.mounted(boot.parts[layout.EFI], "vfat") as root:
        info = next(i for i in bootentries.slots(root) if i.slot == target)
        if info.state is SlotState.EMPTY:
            raise NodeStateError(f"slot {target} holds no image: nothing to roll back to")
        if info.state is SlotState.BAD:
            reason = info.failure or FAILED_TO_BOOT
            raise NodeStateError(f"slot {target} {reason}: it cannot be rolled back to")
        bootentries.prefer(root, target)
    return info
