"""The metal-profile image boots where the VM image cannot: Debian's generic kernel, its root on
a SATA disk behind an AHCI controller and an Intel e1000e as its only NIC (the cloud kernel
has drivers for neither). The initramfs loads the AHCI driver, then, once the disk appeared,
sd_mod, and kiln-machined the e1000e driver, by modalias coldplug; the API answering over that
NIC in maintenance mode is the proof the right drivers loaded."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from image_vm import BootedVM, BuiltImage, booted_image

from kiln import process, qemu

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

KILNCTL = str(Path(sys.executable).with_name("kilnctl"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def metal_vm(
    metal_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BootedVM]:
    hardware = {"nic_model": "e1000e", "root_bus": qemu.RootBus.AHCI}
    what = "metal image (e1000e, AHCI)"
    async with booted_image(
        metal_image, tmp_path_factory.mktemp("metal-vm"), what, **hardware
    ) as vm:
        yield vm


async def _kilnctl(*args: str) -> str:
    done = await process.run([KILNCTL, *args], timeout=120)
    return done.stdout.decode()


async def test_coldplug_loads_the_ahci_disk_and_e1000e_drivers_and_the_api_answers(
    metal_vm: BootedVM,
) -> None:
    version = await _kilnctl("version", "--insecure", "-n", metal_vm.endpoint)
    assert "Maintenance: yes" in version
    assert "OS: Linux 6.1.0-" in version and "cloud" not in version  # the generic kernel
    hardware = await _kilnctl("hardware", "--insecure", "-n", metal_vm.endpoint)
    assert "/dev/sda" in hardware and "eth0" in hardware
    lines = metal_vm.vm.console().splitlines()
    by_init = [line for line in lines if "kiln-init: coldplug loaded:" in line]
    by_node = [line for line in lines if "coldplug loaded:" in line and "kiln-init" not in line]
    assert {"ahci", "sd_mod"} <= _modules(by_init), by_init
    assert "e1000e" in _modules(by_node), by_node


def _modules(lines: list[str]) -> set[str]:
    """The module names of ``coldplug loaded: a, b`` console lines."""
    return {name.strip() for line in lines for name in line.split("loaded:")[1].split(",")}
