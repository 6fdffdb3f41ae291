"""The raw disk image: GPT with the partitions an installed node uses, bootable by UEFI.

::

    EFI        FAT32, systemd-boot; /A and /B hold each slot's kernel and initramfs
    BOOT-A     the root squashfs of slot A (written raw)
    BOOT-B     slot B's root (empty until an upgrade writes it)
    META       small, for what the installer records (empty)
    STATE      the machine config (unformatted: the installer formats it)
    EPHEMERAL  /var (unformatted: the installer formats it)

Only slot A is filled and has a boot entry. Partition and disk GUIDs, the FAT volume id and
file times derive from the artifacts' hashes and ``SOURCE_DATE_EPOCH``: the same artifacts
give the same disk. The file is sparse; unformatted partitions take no space.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from kiln import process
from kiln.image.errors import ImageError

MIB = 1 << 20
SECTOR = 512
SYSTEMD_BOOT = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"  # in the staged packages
LOADER = "systemd-bootx64.efi"  # beside the cached artifacts
ESP_TYPE = "ef00"
LINUX_TYPE = "8300"


@dataclass(frozen=True)
class Partition:
    name: str
    size_mib: int
    type_code: str = LINUX_TYPE


LAYOUT = (
    Partition("EFI", 100, ESP_TYPE),
    Partition("BOOT-A", 256),
    Partition("BOOT-B", 256),
    Partition("META", 1),
    Partition("STATE", 100),
    Partition("EPHEMERAL", 1024),
)
FIRST_MIB = 1
DISK_MIB = FIRST_MIB + sum(p.size_mib for p in LAYOUT) + 1  # 1 MiB for the backup GPT


def offsets() -> dict[str, tuple[int, int]]:
    """Each partition's (first sector, last sector)."""
    result = {}
    start = FIRST_MIB * MIB // SECTOR
    for part in LAYOUT:
        count = part.size_mib * MIB // SECTOR
        result[part.name] = (start, start + count - 1)
        start += count
    return result


def _guid(seed: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kiln-disk:{seed}:{name}")).upper()


def loader_files(cmdline: str) -> dict[str, str]:
    """systemd-boot's configuration: one entry for slot A (``default`` matches both slots)."""
    return {
        "loader/loader.conf": "timeout 0\ndefault slot-*\neditor no\n",
        "loader/entries/slot-a.conf": (
            "title Kiln OS (slot A)\n"
            "sort-key kiln\n"
            "linux /A/vmlinuz\n"
            "initrd /A/initramfs\n"
            f"options {cmdline} kiln.root=PARTLABEL=BOOT-A\n"
        ),
    }


async def make(
    output: Path, artifacts: Path, cmdline: str, seed: str, epoch: int, work: Path
) -> None:
    """Write the disk image to ``output`` from the artifacts in ``artifacts`` (see the module
    docstring); ``seed`` makes the GUIDs, ``work`` is scratch space."""
    spans = offsets()
    root = artifacts / "rootfs.squashfs"
    await asyncio.to_thread(_blank, output, root, spans)
    argv = ["sgdisk", "--clear", f"--disk-guid={_guid(seed, 'disk')}"]
    for number, part in enumerate(LAYOUT, start=1):
        first, last = spans[part.name]
        argv += [
            f"--new={number}:{first}:{last}",
            f"--typecode={number}:{part.type_code}",
            f"--change-name={number}:{part.name}",
            f"--partition-guid={number}:{_guid(seed, part.name)}",
        ]
    await process.run([*argv, str(output)], timeout=60)
    esp = work / "esp.img"
    files = {
        "EFI/BOOT/BOOTX64.EFI": artifacts / LOADER,
        "A/vmlinuz": artifacts / "vmlinuz",
        "A/initramfs": artifacts / "initramfs",
    }
    first, last = spans["EFI"]
    esp_kib = (last - first + 1) * SECTOR // 1024
    await process.run(
        ["mkfs.fat", "-C", "-F", "32", "-n", "EFI", "--invariant", str(esp), str(esp_kib)],
        env={"SOURCE_DATE_EPOCH": str(epoch)},
        timeout=60,
    )
    tree = work / "esp"
    entries = await asyncio.to_thread(_esp_tree, tree, files, loader_files(cmdline), epoch)
    await process.run(
        ["mcopy", "-s", "-m", "-i", str(esp), *(str(tree / e) for e in entries), "::/"],
        env={"MTOOLS_SKIP_CHECK": "1", "SOURCE_DATE_EPOCH": str(epoch)},
        timeout=120,
    )
    await asyncio.to_thread(_write_at, output, first * SECTOR, esp)
    await asyncio.to_thread(_write_at, output, spans["BOOT-A"][0] * SECTOR, root)


def _blank(output: Path, root: Path, spans: dict[str, tuple[int, int]]) -> None:
    first, last = spans["BOOT-A"]
    size = root.stat().st_size
    if size > (last - first + 1) * SECTOR:
        raise ImageError(f"the root ({size} bytes) does not fit in BOOT-A")
    output.unlink(missing_ok=True)
    with output.open("wb") as f:
        f.truncate(DISK_MIB * MIB)


def _esp_tree(tree: Path, files: dict[str, Path], texts: dict[str, str], epoch: int) -> list[str]:
    """The ESP's files under ``tree``, all dated ``epoch``; its top-level entries."""
    shutil.rmtree(tree, ignore_errors=True)
    for relative, source in files.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tree / relative)
    for relative, text in texts.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_text(text)
    for path in [tree, *sorted(tree.rglob("*"))]:
        os.utime(path, (epoch, epoch))
    return sorted(p.name for p in tree.iterdir())


def _write_at(output: Path, offset: int, source: Path) -> None:
    with output.open("r+b") as target, source.open("rb") as data:
        target.seek(offset)
        shutil.copyfileobj(data, target, 4 * MIB)
