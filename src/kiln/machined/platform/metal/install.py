"""Installing Kiln OS to a disk from the running image (a maintenance-mode node applying a
config whose ``machine.install.disk`` names a disk).

The disk is checked first (it must exist, be a whole disk and be large enough), and so is the
boot medium; nothing is written before that. Then: a new GPT
(:mod:`kiln.machinery.osimage.layout`, random GUIDs), FAT on EFI with systemd-boot, this
image's kernel and initramfs under ``/A`` with slot A's entry (root by PARTUUID, so another
disk holding a Kiln OS does not confuse the boot), the running root squashfs copied raw into
BOOT-A, ext4 on STATE and EPHEMERAL, and the config on STATE. The node then reboots into it.

The kernel and initramfs come from the boot medium: the EFI partition of the disk the root
was mounted from (the ISO, a written ``disk.raw``, an installed disk), in the directory of the
slot that booted. The root does not carry a copy of them. A node whose kernel came over the
network, with its root on a bare squashfs disk, cannot install.

A node booted from a Kiln OS disk that was never configured (the image's ``disk.raw`` written
to a disk) may name that disk: it keeps its partitions and slot A and only formats STATE and
EPHEMERAL and stores the config there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from kiln import __version__, process
from kiln.machined.errors import InvalidRequestError
from kiln.machined.platform.metal import blockdev, partmount
from kiln.machinery.config import MachineConfig
from kiln.machinery.osimage import bootentries, layout
from kiln.machinery.privatefile import write_private_file

logger = logging.getLogger(__name__)

PARTITION_WAIT = 30.0
LOADER_FILE = "systemd-bootx64.efi"
CONFIG_FILE = "config.yaml"
OWN_ARGS = ("kiln.root=", "kiln.slot=", "BOOT_IMAGE=", "initrd=")
SLOT_ARG = "kiln.slot="
KERNEL_FILES = ("vmlinuz", "initramfs")


VAR = Path("/var")  # where the installed system mounts EPHEMERAL


@dataclass(frozen=True)
class Installed:
    disk: str
    seconds: float


def check_disk(path: str) -> str:
    """The kernel name of the whole disk at ``path`` (``vdb``), if the node may install to it;
    InvalidRequestError says why not."""
    try:
        info = Path(path).stat()
    except FileNotFoundError:
        raise InvalidRequestError(f"machine.install.disk {path}: no such disk") from None
    except OSError as exc:
        raise InvalidRequestError(f"machine.install.disk {path}: {exc.strerror}") from None
    if not stat.S_ISBLK(info.st_mode):
        raise InvalidRequestError(f"machine.install.disk {path}: not a block device")
    name = Path(os.path.realpath(path)).name
    if blockdev.disk_of(f"/dev/{name}") != name:
        raise InvalidRequestError(f"machine.install.disk {path}: a partition, not a whole disk")
    needed = layout.DISK_MIB * layout.MIB
    if blockdev.size_of(f"/dev/{name}") < needed:
        raise InvalidRequestError(
            f"machine.install.disk {path}: too small ({blockdev.size_of(f'/dev/{name}')} bytes; "
            f"Kiln OS needs {needed})"
        )
    return name


def boot_cmdline(proc_cmdline: str, extra: list[str]) -> str:
    """The kernel command line for installed slots: this boot's, without the slot's own
    arguments, and ``extra``."""
    words = [w for w in proc_cmdline.split() if not w.startswith(OWN_ARGS)]
    return " ".join([*words, *extra])


def carrying(state_dir: Path, names: tuple[str, ...]) -> Callable[[MachineConfig], Awaitable[None]]:
    """Install if the config names a disk, carrying the directories ``names`` of the state
    directory (under ``/var``) to the installed system's EPHEMERAL, where it finds them again:
    what the node is to its hub stays the same machine."""
    carry: dict[str, Path] = {}
    if state_dir.is_relative_to(VAR):
        carry = {str(state_dir.relative_to(VAR) / name): state_dir / name for name in names}

    async def install_if_asked(config: MachineConfig) -> None:
        if config.machine_config.machine.install.disk is not None:
            await install(config, carry=carry)

    return install_if_asked


async def install(
    config: MachineConfig, version: str = __version__, carry: dict[str, Path] | None = None
) -> Installed:
    """Install to the disk ``config`` names (see the module docstring); ``carry``: directories
    to copy onto the new EPHEMERAL, by their path there."""
    started = time.monotonic()
    section = config.machine_config.machine.install
    if section.disk is None:
        raise InvalidRequestError("machine.install.disk: not set")
    mountinfo, proc_cmdline = await asyncio.to_thread(
        _read, "/proc/self/mountinfo", "/proc/cmdline"
    )
    running_from = blockdev.root_device(mountinfo)
    disk = check_disk(section.disk)
    if running_from and blockdev.disk_of(running_from) == disk:
        await _format_in_place(config, disk)
        return Installed(disk, time.monotonic() - started)
    size = blockdev.squashfs_size(running_from) if running_from else 0
    if not size:
        raise InvalidRequestError("the running root is not a squashfs on a disk: cannot install")
    esp = boot_medium_esp(running_from)
    with partmount.mounted(esp, "vfat", readonly=True) as medium:
        kernel_dir = kernel_files(medium, esp, booted_slot(proc_cmdline))
        parts = await _install_to(
            disk, running_from, size, kernel_dir, proc_cmdline, config, version
        )
    if carry:
        await asyncio.to_thread(_carry, parts[layout.EPHEMERAL], carry)
    seconds = time.monotonic() - started
    logger.info("installed to /dev/%s in %.1fs", disk, seconds)
    return Installed(disk, seconds)


def boot_medium_esp(running_from: str, sys_block: Path = blockdev.SYS_BLOCK) -> str:
    """The EFI partition of the disk the root ``running_from`` is on: where this boot's
    kernel and initramfs are. InvalidRequestError when there is none."""
    disk = blockdev.disk_of(running_from, sys_block)
    esp = blockdev.partitions(disk, sys_block).get(layout.EFI)
    if esp is None:
        raise InvalidRequestError(
            f"cannot install: the root was mounted from {running_from}, whose disk has no "
            f"{layout.EFI} partition holding this image's kernel and initramfs (they came "
            "over the network); boot the image's ISO or disk image to install"
        )
    return esp


def booted_slot(proc_cmdline: str) -> str:
    """The slot this boot came from (``kiln.slot=``; the ISO and ``disk.raw`` boot ``A``)."""
    for word in proc_cmdline.split():
        if word.startswith(SLOT_ARG):
            return word.removeprefix(SLOT_ARG)
    return "A"


def kernel_files(medium: Path, esp: str, slot: str) -> Path:
    """The directory of the mounted boot medium ``medium`` holding ``slot``'s kernel and
    initramfs; InvalidRequestError names what is missing."""
    directory = medium / slot
    for name in KERNEL_FILES:
        if not (directory / name).is_file():
            raise InvalidRequestError(
                f"cannot install: the boot medium's {layout.EFI} partition {esp} has no "
                f"{slot}/{name}"
            )
    return directory


async def _install_to(
    disk: str,
    running_from: str,
    size: int,
    kernel_dir: Path,
    proc_cmdline: str,
    config: MachineConfig,
    version: str,
) -> dict[str, str]:
    """Partition and fill ``disk``; its partitions by name."""
    section = config.machine_config.machine.install
    logger.info("installing Kiln OS %s to /dev/%s", version, disk)
    guids = {p.name: str(uuid.uuid4()).upper() for p in layout.LAYOUT}
    target = f"/dev/{disk}"
    await process.run(["sgdisk", "--zap-all", target], timeout=60, check=False)
    await process.run(["sgdisk", "--clear", *layout.sgdisk_arguments(guids), target], timeout=60)
    parts = await asyncio.to_thread(
        blockdev.wait_for_partitions, disk, {p.name for p in layout.LAYOUT}, PARTITION_WAIT
    )
    await process.run(["mkfs.fat", "-F", "32", "-n", "EFI", parts[layout.EFI]], timeout=120)
    for name in (layout.STATE, layout.EPHEMERAL):
        await process.run(["mkfs.ext4", "-F", "-q", "-L", name, parts[name]], timeout=300)
    await asyncio.to_thread(blockdev.copy, running_from, parts[layout.BOOT_A], size)
    cmdline = boot_cmdline(proc_cmdline, section.extra_kernel_args)
    await asyncio.to_thread(_write_partitions, parts, kernel_dir, version, cmdline, guids, config)
    return parts


async def _format_in_place(config: MachineConfig, disk: str) -> None:
    parts = blockdev.partitions(disk)
    missing = [p.name for p in layout.LAYOUT if p.name not in parts]
    if missing:
        raise InvalidRequestError(
            f"machine.install.disk /dev/{disk}: the node runs from this disk, which lacks the "
            f"partition {missing[0]} (boot from another medium to install to it)"
        )
    logger.info("the node runs from /dev/%s: formatting its STATE and EPHEMERAL", disk)
    for name in (layout.STATE, layout.EPHEMERAL):
        await process.run(["mkfs.ext4", "-F", "-q", "-L", name, parts[name]], timeout=300)
    await asyncio.to_thread(_write_config, parts[layout.STATE], config)


def _carry(ephemeral: str, carry: dict[str, Path]) -> None:
    with partmount.mounted(ephemeral, "ext4") as mounted:
        for where, source in carry.items():
            if source.is_dir():
                shutil.copytree(source, mounted / where, symlinks=True, dirs_exist_ok=True)


def _write_config(state_partition: str, config: MachineConfig) -> None:
    with partmount.mounted(state_partition, "ext4") as state:
        write_private_file(state / CONFIG_FILE, config.to_yaml())


def _read(*paths: str) -> list[str]:
    return [Path(p).read_text() for p in paths]


def _write_partitions(
    parts: dict[str, str],
    kernel_dir: Path,
    version: str,
    cmdline: str,
    guids: dict[str, str],
    config: MachineConfig,
) -> None:
    with partmount.mounted(parts[layout.EFI], "vfat") as mounted_esp:
        write_boot_files(mounted_esp, kernel_dir, version, cmdline, guids)
    _write_config(parts[layout.STATE], config)


def write_boot_files(
    esp_root: Path, kernel_dir: Path, version: str, cmdline: str, guids: dict[str, str]
) -> None:
    """systemd-boot (from the root), slot A's kernel and initramfs (from ``kernel_dir``) and
    entry on a fresh ESP."""
    loader = esp_root / "EFI/BOOT/BOOTX64.EFI"
    loader.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(layout.BOOT_FILES) / LOADER_FILE, loader)
    (esp_root / "A").mkdir(exist_ok=True)
    for name in KERNEL_FILES:
        shutil.copyfile(kernel_dir / name, esp_root / "A" / name)
    (esp_root / bootentries.LOADER_CONF).parent.mkdir(parents=True, exist_ok=True)
    (esp_root / bootentries.LOADER_CONF).write_text(bootentries.LOADER_TEXT)
    bootentries.write_release(esp_root, "A", "kiln-os", version)
    text = bootentries.entry_text(
        "A", version, cmdline, f"PARTUUID={guids[layout.BOOT_A]}", preferred=True
    )
    bootentries.write_entry(esp_root, "A", text, tries=None)
