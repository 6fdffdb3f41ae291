"""``kilnctl image build``: from the package lock and this source tree to a signed image.

Steps (each reported to a :class:`Steps` reporter): fetch and verify the locked packages,
unpack them, install the locked Python dependencies, assemble the root, compress its large
programs into their own image inside it (:mod:`kiln.image.programs`), compress the root, assemble
and pack the initramfs, copy the kernel, write and sign the manifest. Artifacts are cached
under ``cache/images/<key>``, the key a hash of every input (package hashes, Python
requirements, Kiln's sources, profile): a rebuild with the same inputs copies them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import kiln
from kiln import __version__
from kiln.image import (
    apt,
    disk,
    initramfs,
    iso,
    manifest,
    programs,
    pydeps,
    rootfs,
    squashfs,
    stage,
)
from kiln.image.errors import ImageError
from kiln.image.lock import DEFAULT_LOCK, PackageLock, load_lock
from kiln.image.profile import Profile
from kiln.machinery.osimage import layout, trial

KERNEL, INITRAMFS, ROOTFS, DISK = "vmlinuz", "initramfs", "rootfs.squashfs", "disk.raw"
ISO = "kiln.iso"
KEEP_BUILDS = 3  # finished artifact sets kept in the cache, newest first
ARTIFACTS = (KERNEL, INITRAMFS, ROOTFS)  # cached; the disk is made from them each time
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.]*")
BASE_KERNEL_ARGS = ("random.trust_cpu=on", "console=ttyS0", "ro", "panic=10")


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiln" / "image"


def project_root() -> Path:
    """The source checkout (for ``uv.lock``): two levels above the ``kiln`` package."""
    return Path(kiln.__file__).resolve().parents[2]


class Steps(Protocol):
    def step(self, title: str) -> contextlib.AbstractContextManager[None]: ...


class QuietSteps:
    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class BuildOptions:
    output: Path
    profile: Profile = Profile.VM
    kernel_args: tuple[str, ...] = ()
    signing_key: Path | None = None
    lock_path: Path = DEFAULT_LOCK
    cache: Path = field(default_factory=default_cache)
    project: Path = field(default_factory=project_root)
    use_cache: bool = True
    label: str = ""  # appended to the version (``0.1.0+label``): two builds that differ
    break_boot: bool = False  # tests only: an initramfs that fails before the node starts
    break_health: bool = False  # tests only: a node that serves but never reaches running

    @property
    def version(self) -> str:
        return f"{__version__}+{self.label}" if self.label else __version__


@dataclass(frozen=True)
class BuildResult:
    output: Path
    manifest: dict[str, Any]
    cached: bool


def tree_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc" or not path.is_file():
            continue
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def input_key(lock: PackageLock, requirements: str, profile: Profile, public_key: bytes) -> str:
    digest = hashlib.sha256()
    for part in (stage.lock_key(lock), requirements, tree_hash(kiln_source()), profile.value):
        digest.update(part.encode() + b"\0")
    digest.update(public_key)
    return digest.hexdigest()[:24]


def kiln_source() -> Path:
    return Path(kiln.__file__).resolve().parent


async def build(options: BuildOptions, steps: Steps | None = None) -> BuildResult:
    steps = steps or QuietSteps()
    if options.label and not LABEL.fullmatch(options.label):
        raise ImageError(f"--label {options.label!r}: use letters, digits and dots only")
    key = manifest.load_private_key(options.signing_key) if options.signing_key else None
    flavour = options.profile.kernel_flavour
    lock = load_lock(options.lock_path).with_kernel(flavour)
    kernel = lock.kernel(flavour)
    release = kernel.name.removeprefix("linux-image-")
    with steps.step("Reading the locked Python requirements"):
        requirements = await pydeps.export_requirements(options.project)
    public = manifest.public_key_pem(key) if key else b""
    cache_dir = options.cache / "images" / input_key(lock, requirements, options.profile, public)
    cached = options.use_cache and (cache_dir / ".complete").exists()
    if not cached:
        await _build_artifacts(options, lock, release, requirements, public, cache_dir, steps)
        await asyncio.to_thread(prune, options.cache / "images", KEEP_BUILDS)
    broken = (trial.BREAK_HEALTH_ARG,) if options.break_health else ()
    cmdline = " ".join((*BASE_KERNEL_ARGS, *options.kernel_args, *broken))
    with steps.step(f"Writing the image to {options.output}"):
        await asyncio.to_thread(_copy_artifacts, cache_dir, options.output)
        if options.break_boot:
            await asyncio.to_thread(initramfs.append_break_marker, options.output / INITRAMFS)
    with (
        steps.step("Making the disk image (GPT, UEFI, systemd-boot)"),
        tempfile.TemporaryDirectory(dir=options.cache, prefix="disk-") as tmp,
    ):
        await disk.make(
            options.output / DISK,
            cache_dir,
            cmdline,
            cache_dir.name,
            squashfs.SOURCE_DATE_EPOCH,
            Path(tmp),
            options.version,
        )
    with (
        steps.step("Making the ISO (hybrid UEFI, for USB sticks)"),
        tempfile.TemporaryDirectory(dir=options.cache, prefix="iso-") as tmp,
    ):
        await iso.make(
            options.output / ISO,
            cache_dir,
            cmdline,
            squashfs.SOURCE_DATE_EPOCH,
            Path(tmp),
            options.version,
        )
    with steps.step("Writing and signing the manifest"):
        data = {
            "name": "kiln-os",
            "version": options.version,
            "label": options.label,
            "broken": options.break_boot or options.break_health,
            "profile": options.profile.value,
            "kernel": {"package": kernel.name, "version": kernel.version, "release": release},
            "cmdline": cmdline,
            "packages": {p.name: p.version for p in lock.packages},
            "python_packages": _python_packages(requirements),
            "source_date_epoch": squashfs.SOURCE_DATE_EPOCH,
            "artifacts": await asyncio.to_thread(
                manifest.describe, options.output, [*ARTIFACTS, DISK, ISO]
            ),
        }
        await asyncio.to_thread(_write_manifest, options.output, data, key)
    return BuildResult(options.output, data, cached)


async def _build_artifacts(
    options: BuildOptions,
    lock: PackageLock,
    release: str,
    requirements: str,
    public_key: bytes,
    cache_dir: Path,
    steps: Steps,
) -> None:
    with steps.step(f"Fetching {len(lock.packages)} locked Debian packages"):
        debs = await apt.fetch(lock.packages, options.cache)
    with steps.step("Unpacking the packages"):
        staged = await stage.staging_tree(lock, debs, options.cache)
    with steps.step("Installing Kiln's Python dependencies"):
        site = await pydeps.install(requirements, options.cache)
    await asyncio.to_thread(_fresh_directory, cache_dir)
    with tempfile.TemporaryDirectory(dir=options.cache, prefix="build-") as tmp:
        work = Path(tmp)
        with steps.step("Building the initramfs"):
            await initramfs.assemble(staged, release, options.profile, work / "initramfs")
            await initramfs.pack(
                work / "initramfs", cache_dir / INITRAMFS, squashfs.SOURCE_DATE_EPOCH
            )
        await asyncio.to_thread(_copy_kernel, staged, release, cache_dir / KERNEL)
        await asyncio.to_thread(
            shutil.copyfile, staged / disk.SYSTEMD_BOOT, cache_dir / disk.LOADER
        )
        with steps.step("Assembling the root filesystem"):
            await rootfs.assemble(staged, site, kiln_source(), work / "root", work / "programs")
            rootfs.add_kernel_modules(staged, release, work / "root", options.profile)
            await asyncio.to_thread(_add_loader_and_key, cache_dir, public_key, work / "root")
        with steps.step("Compressing the programs (squashfs, xz)"):
            programs_cache = options.cache / "programs" if options.use_cache else None
            image = work / "root" / programs.IMAGE
            await programs.compress(work / "programs", image, programs_cache)
        with steps.step("Compressing the root filesystem (squashfs, zstd)"):
            await squashfs.make(work / "root", cache_dir / ROOTFS)
    await asyncio.to_thread((cache_dir / ".complete").write_text, "")


def _add_loader_and_key(cache_dir: Path, public_key: bytes, root: Path) -> None:
    """The boot loader the installer writes to a disk and the key upgrades must be signed
    with, into the root. The kernel and initramfs an install writes come from the boot
    medium (:mod:`kiln.machined.platform.metal.install`), not from a copy in the root."""
    boot = root / layout.BOOT_FILES.lstrip("/")
    boot.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache_dir / disk.LOADER, boot / disk.LOADER)
    if public_key:
        trusted = root / layout.TRUSTED_KEY.lstrip("/")
        trusted.parent.mkdir(parents=True, exist_ok=True)
        trusted.write_bytes(public_key)


def prune(images: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest artifact sets (and unfinished ones, if older than
    the newest finished set: a build that was killed); returns what was removed."""
    finished = sorted(
        (d for d in images.iterdir() if (d / ".complete").exists()),
        key=lambda d: (d / ".complete").stat().st_mtime,
        reverse=True,
    )
    newest = (finished[0] / ".complete").stat().st_mtime if finished else 0.0
    stale = finished[keep:] + [
        d
        for d in images.iterdir()
        if d.is_dir() and not (d / ".complete").exists() and d.stat().st_mtime < newest
    ]
    for directory in stale:
        shutil.rmtree(directory, ignore_errors=True)
    return stale


def _copy_artifacts(cache_dir: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        shutil.copyfile(cache_dir / name, output / name)


def _write_manifest(output: Path, data: dict[str, Any], key: Ed25519PrivateKey | None) -> None:
    (output / manifest.MANIFEST).write_bytes(manifest.encode(data))
    (output / manifest.SIGNATURE).unlink(missing_ok=True)
    if key:
        manifest.sign(output, key)


def _fresh_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _copy_kernel(staged: Path, release: str, target: Path) -> None:
    vmlinuz = staged / "boot" / f"vmlinuz-{release}"
    if not vmlinuz.exists():
        raise ImageError(f"the kernel package holds no {vmlinuz.name}")
    shutil.copyfile(vmlinuz, target)


def _python_packages(requirements: str) -> dict[str, str]:
    found = {}
    for line in requirements.splitlines():
        spec = line.split(";")[0].strip().rstrip("\\").strip()
        name, sep, version = spec.partition("==")
        if sep:
            found[name] = version
    return found
