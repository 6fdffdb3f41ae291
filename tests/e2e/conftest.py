"""The e2e tier: one image built per run (its artifacts cached across runs in
``~/.cache/kiln/image``, keyed by every input) and one VM booted from it per module; the
metal-profile image is built (and cached) the same way, only for the tests that ask for it."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from image_vm import BootedVM, BuiltImage, booted_image, signing_keys

from kiln import process, qemu
from kiln.image import apt, build, lock
from kiln.image.errors import PackageError
from kiln.image.profile import Profile

TOOLS = ("apt-get", "dpkg-deb", "mksquashfs", "zstd", "sgdisk", "mkfs.fat", "mcopy", "xorriso")


def _missing() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"needs {tool} (scripts/dev installs it on Debian)"
    return qemu.available()


def _build(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> BuiltImage:
    private, public = signing_keys()
    output = tmp_path_factory.mktemp(f"image-{profile.value}")
    options = build.BuildOptions(output=output, signing_key=private, profile=profile)
    started = time.monotonic()
    result = asyncio.run(build.build(options))
    seconds = time.monotonic() - started
    print(
        f"\n{profile.value} image build: {seconds:.1f}s ({'cached' if result.cached else 'built'})"
    )
    return BuiltImage(output, public, result.manifest, seconds)


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    return _build(tmp_path_factory, Profile.VM)


@pytest.fixture(scope="session")
def metal_image(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """The image built with ``--profile metal`` (Debian's generic kernel, coldplugged drivers)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    kernel = lock.load_lock().kernel(Profile.METAL.kernel_flavour)
    try:
        asyncio.run(apt.fetch([kernel], build.default_cache()))
    except (PackageError, process.ProcessError) as exc:
        pytest.skip(f"the metal image needs {kernel.name} {kernel.version}, not fetched: {exc}")
    return _build(tmp_path_factory, Profile.METAL)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def booted(
    image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BootedVM]:
    qmp = tmp_path_factory.mktemp("qmp") / "qmp.sock"
    async with booted_image(image, tmp_path_factory.mktemp("vm"), "vm image", qmp=qmp) as vm:
        yield vm
