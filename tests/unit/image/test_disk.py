"""The raw disk image's layout, boot entries and reproducibility (with small stand-in files)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from kiln import process
from kiln.image import disk
from kiln.image.errors import ImageError
from kiln.machinery.osimage import layout

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("sgdisk", "mkfs.fat", "mcopy")),
    reason="needs sgdisk, mkfs.fat and mcopy (apt-get install gdisk dosfstools mtools)",
)


def test_partitions_follow_each_other_and_fit_the_disk() -> None:
    spans = layout.offsets()
    assert list(spans) == ["EFI", "BOOT-A", "BOOT-B", "META", "STATE", "EPHEMERAL"]
    ends = [spans[name] for name in spans]
    for (_, last), (first, _) in itertools.pairwise(ends):
        assert first == last + 1
    assert ends[0][0] * layout.SECTOR == layout.MIB
    assert (ends[-1][1] + 1) * layout.SECTOR <= (layout.DISK_MIB - 1) * layout.MIB


def test_the_boot_entry_names_slot_a_and_the_default_matches_both_slots() -> None:
    files = disk.loader_files("console=ttyS0 ro", "1.2.3")
    assert "default slot-*" in files["loader/loader.conf"]
    entry = files["loader/entries/slot-a.conf"]
    assert "linux /A/vmlinuz" in entry and "initrd /A/initramfs" in entry
    assert "options console=ttyS0 ro kiln.root=PARTLABEL=BOOT-A kiln.slot=A" in entry
    assert '"version": "1.2.3"' in files["A/release.json"]


async def _make(tmp_path: Path, name: str) -> Path:
    artifacts = tmp_path / "artifacts"
    if not artifacts.exists():
        artifacts.mkdir()
        for file in ("vmlinuz", "initramfs", disk.LOADER):
            (artifacts / file).write_bytes(file.encode() * 100)
        (artifacts / "rootfs.squashfs").write_bytes(b"hsqs" + b"\1" * 5000)
    work = tmp_path / f"work-{name}"
    work.mkdir()
    output = tmp_path / f"{name}.raw"
    await disk.make(output, artifacts, "console=ttyS0", "seed", 1700000000, work, "1.0")
    return output


async def test_the_disk_holds_the_esp_files_and_the_root_and_is_reproducible(
    tmp_path: Path,
) -> None:
    one = await _make(tmp_path, "one")
    two = await _make(tmp_path, "two")
    assert one.read_bytes() == two.read_bytes()
    listing = await process.run(["sgdisk", "--print", str(one)])
    assert "BOOT-A" in listing.stdout.decode() and "EPHEMERAL" in listing.stdout.decode()
    first = layout.offsets()["BOOT-A"][0] * layout.SECTOR
    with one.open("rb") as f:
        f.seek(first)
        assert f.read(4) == b"hsqs"
    esp = f"{one}@@{layout.offsets()['EFI'][0] * layout.SECTOR}"
    files = await process.run(
        ["mdir", "-/", "-b", "-i", esp, "::/"], env={"MTOOLS_SKIP_CHECK": "1"}
    )
    names = files.stdout.decode()
    for path in ("EFI/BOOT/BOOTX64.EFI", "A/vmlinuz", "A/initramfs", "loader/entries/slot-a.conf"):
        assert f"::/{path}" in names


async def test_a_root_too_big_for_its_slot_is_refused(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with (artifacts / "rootfs.squashfs").open("wb") as f:
        f.truncate(300 * layout.MIB)
    with pytest.raises(ImageError, match="does not fit in BOOT-A"):
        await disk.make(tmp_path / "d.raw", artifacts, "", "s", 0, tmp_path, "1.0")
