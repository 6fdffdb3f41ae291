"""The hybrid ISO: an El Torito UEFI boot image that is also the GPT ESP, and the root
squashfs as a partition named KILN-ROOT (with small stand-in files). The ESP is named EFI:
an install booted from the ISO copies the kernel and initramfs from there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiln import process
from kiln.image import disk, iso

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("sgdisk", "mkfs.fat", "mcopy", "xorriso")),
    reason="needs sgdisk, mkfs.fat, mcopy and xorriso (apt-get install gdisk dosfstools mtools "
    "xorriso)",
)


async def test_the_iso_boots_by_uefi_and_carries_the_root_as_a_named_partition(
    tmp_path: Path,
) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for name in ("vmlinuz", "initramfs", disk.LOADER):
        (artifacts / name).write_bytes(name.encode() * 1000)
    (artifacts / "rootfs.squashfs").write_bytes(b"hsqs" + b"\1" * 70000)
    work = tmp_path / "work"
    work.mkdir()
    output = tmp_path / "kiln.iso"
    await iso.make(output, artifacts, "console=ttyS0", 1700000000, work, "1.0")
    table = (await process.run(["sgdisk", "--print", str(output)])).stdout.decode()
    rows = [line.split() for line in table.splitlines() if line[:4].strip().isdigit()]
    assert rows[1][-2:] == ["EF00", "EFI"]  # where an install finds the kernel
    assert rows[2][-1] == iso.ROOT_LABEL
    with output.open("rb") as f:
        f.seek(int(rows[2][1]) * 512)
        assert f.read(4) == b"hsqs"
    torito = await process.run(["xorriso", "-indev", str(output), "-report_el_torito", "plain"])
    assert "UEFI" in torito.stdout.decode()
    esp = f"{output}@@{int(rows[1][1]) * 512}"
    entry = await process.run(
        ["mtype", "-i", esp, "::/loader/entries/slot-a.conf"], env={"MTOOLS_SKIP_CHECK": "1"}
    )
    assert f"kiln.root=PARTLABEL={iso.ROOT_LABEL}" in entry.stdout.decode()
    kernel = await process.run(["mtype", "-i", esp, "::/A/vmlinuz"], env={"MTOOLS_SKIP_CHECK": "1"})
    assert kernel.stdout == b"vmlinuz" * 1000
