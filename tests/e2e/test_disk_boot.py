"""The raw disk image: GPT with EFI, BOOT-A, BOOT-B, META, STATE, EPHEMERAL; UEFI firmware boots
it through systemd-boot into maintenance mode from slot A. The ISO, attached as a disk (as a USB
stick would be), boots the same way with its root on the KILN-ROOT partition."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from image_vm import BuiltImage, forward_address, uefi_disk_vm, wait_for_api

from kiln import process, qemu
from kiln.image import build

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

KILNCTL = str(Path(sys.executable).with_name("kilnctl"))
API_WAIT = 240.0


async def test_the_disk_has_the_partitions_an_installed_node_uses(image: BuiltImage) -> None:
    done = await process.run(["sgdisk", "--print", str(image.directory / build.DISK)])
    names = [
        line.split()[-1] for line in done.stdout.decode().splitlines() if line[:4].strip().isdigit()
    ]
    assert names == ["EFI", "BOOT-A", "BOOT-B", "META", "STATE", "EPHEMERAL"]
    assert "EF00" in done.stdout.decode()


async def boot_into_maintenance(disk: Path, tmp_path: Path, what: str) -> str:
    """Boot ``disk`` through OVMF until the API answers in maintenance mode; the console."""
    if not qemu.OVMF_CODE.exists():
        pytest.skip("needs UEFI firmware for QEMU (apt-get install ovmf)")
    host, port = forward_address()
    vm = await qemu.VM.start(uefi_disk_vm(disk, tmp_path, {f"{host}:{port}": 50000}))
    try:
        seconds = await wait_for_api(vm, host, port, API_WAIT)
        print(f"\nUEFI boot of {what}, QEMU start to API answering: {seconds:.1f}s")
        done = await process.run([KILNCTL, "version", "--insecure", "-n", f"{host}:{port}"])
        assert "Maintenance: yes" in done.stdout.decode()
        return vm.console()
    finally:
        await vm.stop()


async def test_uefi_boots_the_disk_into_maintenance_mode(image: BuiltImage, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    await process.run(["cp", "--sparse=always", str(image.directory / build.DISK), str(disk)])
    console = await boot_into_maintenance(disk, tmp_path, "disk.raw")
    assert "kiln.root=PARTLABEL=BOOT-A" in console  # the kernel's command line, logged
    assert "kiln-init: root /dev/vda2 mounted read-only" in console


async def test_uefi_boots_the_iso_as_a_usb_stick_into_maintenance_mode(
    image: BuiltImage, tmp_path: Path
) -> None:
    stick = tmp_path / "kiln.iso"
    shutil.copyfile(image.directory / build.ISO, stick)
    assert b"KILN-ROOT" in (await process.run(["sgdisk", "--print", str(stick)])).stdout
    console = await boot_into_maintenance(stick, tmp_path, "kiln.iso as a disk")
    assert "kiln-init: root /dev/vda3 mounted read-only" in console
