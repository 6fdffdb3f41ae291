"""The raw disk image: GPT with the partitions an installed node uses
(:mod:`kiln.machinery.osimage.layout`), bootable by UEFI. STATE and EPHEMERAL are left
unformatted: booted from this disk, the node is in maintenance mode until a config is applied.

Only slot A is filled and has a boot entry. Partition and disk GUIDs, the FAT volume id and
file times derive from the artifacts' hashes and ``SOURCE_DATE_EPOCH``: the same artifacts
give the same disk. The file is sparse; unformatted partitions take no space.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from pathlib import Path

from kiln import process
from kiln.image.errors import ImageError
from kiln.machinery.osimage import bootentries, layout

SYSTEMD_BOOT = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"  # in the staged packages
LOADER = "systemd-bootx64.efi"  # beside the cached artifacts


def _guid(seed: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kiln-disk:{seed}:{name}")).upper()


def loader_files(
    cmdline: str, version: str, root: str = f"PARTLABEL={layout.BOOT_A}"
) -> dict[str, str]:
    """systemd-boot's configuration: one entry for slot A (``default`` matches both slots)."""
    return {
        bootentries.LOADER_CONF: bootentries.LOADER_TEXT,
        f"{bootentries.ENTRIES}/{bootentries.entry_name('A', None)}": bootentries.entry_text(
            "A", version, cmdline, root, preferred=True
        ),
        f"A/{bootentries.RELEASE}": json.dumps({"name": "kiln-os", "version": version}) + "\n",
    }


async def make(
    output: Path, artifacts: Path, cmdline: str, seed: str, epoch: int, work: Path, version: str
) -> None:
    """Write the disk image to ``output`` from the artifacts in ``artifacts`` (see the module
    docstring); ``seed`` makes the GUIDs, ``work`` is scratch space."""
    spans = layout.offsets()
    root = artifacts / "rootfs.squashfs"
    await asyncio.to_thread(_blank, output, root, spans)
    argv = ["sgdisk", "--clear", f"--disk-guid={_guid(seed, 'disk')}"]
    argv += layout.sgdisk_arguments({p.name: _guid(seed, p.name) for p in layout.LAYOUT})
    await process.run([*argv, str(output)], timeout=60)
    esp = work / "esp.img"
    first, last = spans[layout.EFI]
    esp_kib = (last - first + 1) * layout.SECTOR // 1024
    texts = loader_files(cmdline, version)
    await esp_image(esp, esp_kib, boot_files(artifacts), texts, epoch, work / "esp")
    await asyncio.to_thread(_write_at, output, first * layout.SECTOR, esp)
    await asyncio.to_thread(_write_at, output, spans[layout.BOOT_A][0] * layout.SECTOR, root)


def boot_files(artifacts: Path) -> dict[str, Path]:
    """What an ESP holds of the artifacts: systemd-boot, slot A's kernel and initramfs."""
    return {
        "EFI/BOOT/BOOTX64.EFI": artifacts / LOADER,
        "A/vmlinuz": artifacts / "vmlinuz",
        "A/initramfs": artifacts / "initramfs",
    }


async def esp_image(
    esp: Path,
    size_kib: int,
    files: dict[str, Path],
    texts: dict[str, str],
    epoch: int,
    tree: Path,
    fat32: bool = True,
) -> None:
    """A FAT image of ``size_kib`` at ``esp`` holding ``files`` and ``texts`` (by path), all
    dated ``epoch``; ``tree`` is scratch space."""
    bits = ["-F", "32"] if fat32 else []
    await process.run(
        ["mkfs.fat", "-C", *bits, "-n", "EFI", "--invariant", str(esp), str(size_kib)],
        env={"SOURCE_DATE_EPOCH": str(epoch)},
        timeout=60,
    )
    entries = await asyncio.to_thread(_esp_tree, tree, files, texts, epoch)
    await process.run(
        ["mcopy", "-s", "-m", "-i", str(esp), *(str(tree / e) for e in entries), "::/"],
        env={"MTOOLS_SKIP_CHECK": "1", "SOURCE_DATE_EPOCH": str(epoch)},
        timeout=120,
    )


def _blank(output: Path, root: Path, spans: dict[str, tuple[int, int]]) -> None:
    first, last = spans[layout.BOOT_A]
    size = root.stat().st_size
    if size > (last - first + 1) * layout.SECTOR:
        raise ImageError(f"the root ({size} bytes) does not fit in BOOT-A")
    output.unlink(missing_ok=True)
    with output.open("wb") as f:
        f.truncate(layout.DISK_MIB * layout.MIB)


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
        shutil.copyfileobj(data, target, 4 * layout.MIB)
