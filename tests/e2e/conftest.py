"""The e2e tier: one image built per run (its artifacts cached across runs in
``~/.cache/kiln/image``, keyed by every input) and one VM booted from it per module."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from image_vm import BootedVM, BuiltImage, forward_address, signing_keys, wait_for_api

from kiln import qemu
from kiln.image import build

TOOLS = ("apt-get", "dpkg-deb", "mksquashfs", "zstd", "sgdisk", "mkfs.fat", "mcopy", "xorriso")
API_WAIT = 180.0


def _missing() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"needs {tool} (scripts/dev installs it on Debian)"
    return qemu.available()


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    private, public = signing_keys()
    output = tmp_path_factory.mktemp("image")
    started = time.monotonic()
    result = asyncio.run(build.build(build.BuildOptions(output=output, signing_key=private)))
    seconds = time.monotonic() - started
    print(f"\nimage build: {seconds:.1f}s ({'cached' if result.cached else 'built'})")
    return BuiltImage(output, public, result.manifest, seconds)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def booted(
    image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BootedVM]:
    host, port = forward_address()
    spec = qemu.VMSpec(
        kernel=image.directory / build.KERNEL,
        initramfs=image.directory / build.INITRAMFS,
        root=image.directory / build.ROOTFS,
        cmdline=str(image.manifest["cmdline"]),
        serial_log=tmp_path_factory.mktemp("vm") / "console.log",
        forwards={f"{host}:{port}": 50000},
        qmp=tmp_path_factory.mktemp("qmp") / "qmp.sock",
    )
    vm = await qemu.VM.start(spec)
    try:
        seconds = await wait_for_api(vm, host, port, API_WAIT)
        print(f"\nQEMU start to API answering: {seconds:.1f}s")
        yield BootedVM(vm, host, port, seconds)
    finally:
        await vm.stop()
