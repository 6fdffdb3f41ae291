"""The ISO image: a hybrid UEFI image to write to a USB stick (or attach as a disk).

``xorriso`` writes an ISO 9660 volume whose El Torito boot image and GPT ESP are the same
appended FAT partition (systemd-boot, the kernel and initramfs under ``/A``, one entry), and
appends the root squashfs as a third GPT partition; they are named ``EFI`` and ``KILN-ROOT``
afterwards (the entry boots with ``kiln.root=PARTLABEL=KILN-ROOT``; an install finds the
kernel and initramfs it writes on ``EFI``). Booted, the node is in maintenance mode;
applying a config that names a disk in ``machine.install.disk`` installs Kiln OS there.
Booting it from a CD drive is not supported: the initramfs has no CD drivers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiln import process
from kiln.image import disk
from kiln.machinery.osimage import layout

ROOT_LABEL = "KILN-ROOT"
ESP_SLACK_KIB = 2048
VOLUME = "KILN_OS"


async def make(
    output: Path, artifacts: Path, cmdline: str, epoch: int, work: Path, version: str
) -> None:
    """Write the ISO to ``output`` from the artifacts in ``artifacts``; ``work`` is scratch."""
    files = disk.boot_files(artifacts)
    sizes = await asyncio.to_thread(lambda: [p.stat().st_size for p in files.values()])
    size_kib = sum(sizes) // 1024 + ESP_SLACK_KIB
    esp = work / "efiboot.img"
    texts = disk.loader_files(cmdline, version, root=f"PARTLABEL={ROOT_LABEL}")
    await disk.esp_image(esp, size_kib, files, texts, epoch, work / "iso-esp", fat32=False)
    tree = work / "iso-root"
    await asyncio.to_thread(_iso_tree, tree, version, output)
    argv = ["xorriso", "-as", "mkisofs", "-o", str(output), "-V", VOLUME, "-iso-level", "3"]
    argv += ["-J", "-R", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot"]
    argv += ["-append_partition", "2", "0xef", str(esp)]
    argv += ["-append_partition", "3", "0x83", str(artifacts / "rootfs.squashfs")]
    argv += ["-appended_part_as_gpt", "-isohybrid-gpt-basdat", str(tree)]
    await process.run(argv, env={"SOURCE_DATE_EPOCH": str(epoch)}, timeout=300)
    names = [f"--change-name=2:{layout.EFI}", f"--change-name=3:{ROOT_LABEL}"]
    await process.run(["sgdisk", *names, str(output)], timeout=60)


def _iso_tree(tree: Path, version: str, output: Path) -> None:
    output.unlink(missing_ok=True)
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "README.TXT").write_text(
        f"Kiln OS {version}. Write this image to a USB stick and boot it with UEFI.\n"
    )
