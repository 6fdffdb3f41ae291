"""Coldplug's matching of device modaliases against module aliases, as the kernel matches
them (shell globs), and loading what matched with dependencies first."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from kiln.machined.platform.metal import kmod
from kiln.machinery import kmodindex

# aliases as Debian's modules carry them (nvme by class, e1000e by ID, sd_mod, usb-storage)
ALIASES = """\
alias pci:v*d*sv*sd*bc01sc08i02* nvme
alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
alias pci:v00008086d0000153Asv*sd*bc*sc*i* e1000e
alias scsi:t-0x00* sd_mod
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage
alias virtio:d00000002v* virtio_blk
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
"""
INDEX = kmodindex.index_lines(
    [
        ("nvme_core", "kernel/nvme_core.ko", ()),
        ("nvme", "kernel/nvme.ko", ("nvme_core",)),
        ("e1000e", "kernel/e1000e.ko", ()),
        ("scsi_mod", "kernel/scsi_mod.ko", ()),
        ("sd_mod", "kernel/sd_mod.ko", ("scsi_mod",)),
        ("usb_storage", "kernel/usb-storage.ko", ("scsi_mod",)),
        ("virtio_blk", "kernel/virtio_blk.ko", ()),
        ("virtio_pci", "kernel/virtio_pci.ko", ()),
    ]
)
NVME_DEVICE = "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02"
E1000E_DEVICE = "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00"


@pytest.mark.parametrize(
    "pattern",
    [
        "pci:v*d*sv*sd*bc01sc08i02*",
        "pci:v00008086d000010D3sv*sd*bc*sc*i*",
        "scsi:t-0x0[0-7]*",
        "scsi:t-0x0[!0]*",
        "usb:v0BDAp81[5-6]?d*",
        "a*b*c",
        "*",
        "pci:v*d*sv*sd*bc02sc00i*",
        "[",
        "x[]y]z",
    ],
)
@pytest.mark.parametrize(
    "text",
    [
        NVME_DEVICE,
        E1000E_DEVICE,
        "scsi:t-0x00",
        "scsi:t-0x05",
        "usb:v0BDAp8153d3000",
        "abc",
        "aXbYc",
        "ab",
        "[",
        "x]z",
        "",
    ],
)
def test_glob_matching_agrees_with_fnmatch(pattern: str, text: str) -> None:
    assert kmodindex.glob_match(pattern, text) == fnmatch.fnmatchcase(text, pattern)


def test_a_device_finds_its_drivers_by_alias() -> None:
    table = kmodindex.AliasTable(ALIASES)
    assert table.modules_for(NVME_DEVICE) == ["nvme"]
    assert table.modules_for(E1000E_DEVICE) == ["e1000e"]
    assert table.modules_for("scsi:t-0x00") == ["sd_mod"]
    assert table.modules_for("scsi:t-0x05") == []  # a CD drive: sr_mod is not shipped
    assert table.modules_for("pci:v00008086d00001237sv00000000sd00000000bc06sc00i00") == []
    usb_stick = "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00"
    assert table.modules_for(usb_stick) == ["usb_storage"]


def _fake_sys(root: Path, devices: dict[str, str]) -> str:
    for where, modalias in devices.items():
        device = root / "bus" / where
        device.mkdir(parents=True)
        (device / "modalias").write_text(modalias + "\n")
    (root / "bus" / "platform" / "devices" / "serial8250").mkdir(parents=True)  # no modalias
    return str(root)


def _modules_dir(tmp_path: Path, aliases: bool) -> Path:
    """A module directory with the index (and the alias index, if ``aliases``)."""
    modules = tmp_path / "modules"
    modules.mkdir(exist_ok=True)
    (modules / kmodindex.INDEX).write_text(INDEX)
    if aliases:
        (modules / kmodindex.ALIASES).write_text(ALIASES)
    return modules


def test_coldplug_loads_matches_with_dependencies_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = _modules_dir(tmp_path, aliases=True)
    loaded: list[str] = []

    def finit(path: str) -> None:
        if path.endswith("e1000e.ko"):
            raise OSError(19, "finit_module e1000e.ko: No such device")
        loaded.append(Path(path).stem)

    monkeypatch.setattr(kmodindex, "finit_module", finit)
    sys_root = _fake_sys(
        tmp_path / "sys",
        {"pci/devices/0000:00:03.0": NVME_DEVICE, "pci/devices/0000:00:02.0": E1000E_DEVICE},
    )
    plug = kmodindex.Coldplug(str(modules))
    assert plug.scan(sys_root) == ["nvme_core", "nvme"]
    assert plug.failed == {"e1000e": "[Errno 19] finit_module e1000e.ko: No such device"}
    assert plug.scan(sys_root) == []  # nothing new
    disk = tmp_path / "sys/bus/scsi/devices/0:0:0:0"  # the controller's disk appeared
    disk.mkdir(parents=True)
    (disk / "modalias").write_text("scsi:t-0x00\n")
    assert plug.scan(sys_root) == ["scsi_mod", "sd_mod"]
    assert loaded == ["nvme_core", "nvme", "scsi_mod", "sd_mod"]
    assert plug.loaded == loaded


def test_modules_load_after_what_they_depend_on() -> None:
    listing = "fat kernel/fs/fat/fat.ko \nvfat kernel/fs/fat/vfat.ko fat\nnls_ascii n.ko \n"
    modules = kmodindex.parse_index(listing)
    assert kmodindex.load_order(["vfat", "nls_ascii"], modules) == ["fat", "vfat", "nls_ascii"]
    with pytest.raises(KeyError):
        kmodindex.load_order(["ext9"], modules)


def test_the_node_coldplugs_until_no_new_driver_loads_and_not_without_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys_root = _fake_sys(tmp_path / "sys", {"pci/devices/0000:00:02.0": E1000E_DEVICE})
    monkeypatch.setattr(kmodindex, "finit_module", lambda path: None)
    monkeypatch.setattr(kmod, "COLDPLUG_SETTLE", 0.0)
    vm_image = _modules_dir(tmp_path, aliases=False)
    assert kmod.coldplug(vm_image, sys_root) == []  # its initramfs loaded its drivers
    assert kmod.coldplug(_modules_dir(tmp_path, aliases=True), sys_root) == ["e1000e"]
