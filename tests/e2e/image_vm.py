"""What the e2e image fixtures hand to tests: the built image and the VM booted from it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiln import qemu
from kiln.image import build, manifest
from kiln.machined.testing import api_answers, free_port

API_WAIT = 180.0


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


def direct_boot_vm(
    image: BuiltImage, serial_log: Path, forwards: dict[str, int], **hardware: Any
) -> qemu.VMSpec:
    """A VM booting ``image``'s kernel and initramfs directly, its root as a read-only disk;
    ``hardware`` takes :class:`kiln.qemu.VMSpec`'s other fields (``nic_model``, ...)."""
    return qemu.VMSpec(
        kernel=image.directory / build.KERNEL,
        initramfs=image.directory / build.INITRAMFS,
        root=image.directory / build.ROOTFS,
        cmdline=str(image.manifest["cmdline"]),
        serial_log=serial_log,
        forwards=forwards,
        **hardware,
    )


@contextlib.asynccontextmanager
async def running(spec: qemu.VMSpec, host: str, port: int, what: str) -> AsyncIterator[BootedVM]:
    """``spec`` started and its API answering at ``host:port`` (forwarded port 50000), stopped
    afterwards; the boot time is printed, labelled ``what``."""
    vm = await qemu.VM.start(spec)
    try:
        seconds = await wait_for_api(vm, host, port, API_WAIT)
        print(f"\n{what}, QEMU start to API answering: {seconds:.1f}s")
        yield BootedVM(vm, host, port, seconds)
    finally:
        await vm.stop()


@contextlib.asynccontextmanager
async def booted_image(
    image: BuiltImage, tmp: Path, what: str, **hardware: Any
) -> AsyncIterator[BootedVM]:
    """``image`` booted directly (:func:`direct_boot_vm`, its console in ``tmp``) with its API
    forwarded to a free loopback address, until the API answers; stopped afterwards."""
    host, port = forward_address()
    spec = direct_boot_vm(image, tmp / "console.log", {f"{host}:{port}": 50000}, **hardware)
    async with running(spec, host, port, what) as vm:
        yield vm


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
