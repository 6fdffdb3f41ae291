"""What the e2e image fixtures hand to tests: the built image and the VM booted from it."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln import qemu
from kiln.image import build, manifest
from kiln.machined.testing import api_answers, free_port


@dataclass(frozen=True)
class BuiltImage:
    directory: Path
    public_key: Path
    manifest: dict[str, object]
    seconds: float


@dataclass(frozen=True)
class BootedVM:
    vm: qemu.VM
    host: str
    port: int
    seconds_to_api: float

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


async def wait_for_api(vm: qemu.VM, host: str, port: int, within: float) -> float:
    """Seconds from QEMU's start until the node's API answers TLS at ``host:port``; the test
    fails with the console's tail if QEMU exits or ``within`` passes first."""
    deadline = time.monotonic() + within
    while not await api_answers(host, port):
        if vm.child.returncode is not None or time.monotonic() > deadline:
            pytest.fail(f"the VM's API did not answer in {within:g}s:\n{vm.console()[-3000:]}")
        await asyncio.sleep(0.2)
    return time.monotonic() - vm.started


def uefi_disk_vm(
    disk: Path, tmp: Path, forwards: dict[str, int], *, reboot: bool = False
) -> qemu.VMSpec:
    """A VM booting ``disk`` through OVMF, with a fresh copy of its variables (a reused copy
    kept stale entries and fell into the EFI shell) and its console in ``tmp``."""
    variables = tmp / "OVMF_VARS.fd"
    shutil.copyfile(qemu.OVMF_VARS, variables)
    return qemu.VMSpec(
        kernel=None,
        initramfs=None,
        root=None,
        cmdline="",
        serial_log=tmp / "console.log",
        forwards=forwards,
        disks=(disk,),
        uefi_vars=variables,
        reboot=reboot,
    )


def forward_address() -> tuple[str, int]:
    """A free host address and port in 127.99.0.0/16 for the VM's forwarded API port."""
    host = f"127.99.{random.randint(1, 254)}.{random.randint(1, 254)}"
    return host, free_port(host)


def signing_keys() -> tuple[Path, Path]:
    """One signing key kept beside the build cache: its public half is built into the root,
    so a new key per run would rebuild the root every run."""
    keys = build.default_cache() / "e2e-keys"
    private, public = keys / manifest.PRIVATE_KEY_FILE, keys / manifest.PUBLIC_KEY_FILE
    if not (private.exists() and public.exists()):
        manifest.generate_key(keys)
    return private, public


async def image_variant(image: BuiltImage, tmp: Path, label: str, **broken: bool) -> Path:
    """A signed build of the same sources labelled ``label`` (version ``0.1.0+label``), for
    upgrades; ``broken`` takes the build's hidden options (``break_boot=True``, ...)."""
    private, _ = signing_keys()
    output = tmp / label
    options = build.BuildOptions(output=output, signing_key=private, label=label, **broken)
    await build.build(options)
    for unused in (build.DISK, build.ISO):  # not needed for an upgrade
        (output / unused).unlink()
    return output
