"""Each profile builds from its own kernel: the VM image from the cloud kernel only (the
generic one is neither fetched nor unpacked), the metal image from the generic kernel with
the drivers of its table."""

from __future__ import annotations

import pytest

from kiln.image import stage
from kiln.image.errors import LockError
from kiln.image.lock import LockedPackage, PackageLock, load_lock
from kiln.image.modules import soft_predependencies
from kiln.image.profile import METAL_DRIVERS, Profile, Stage, metal_drivers

SHA = "c" * 64


def _package(name: str) -> LockedPackage:
    return LockedPackage(name, "6.1.192-3", "amd64", SHA, 1, f"pool/{name}.deb")


BOTH = PackageLock(
    ("linux-image-cloud-amd64", "linux-image-amd64", "libc6"),
    (),
    tuple(
        _package(name)
        for name in (
            "libc6",
            "linux-image-6.1.0-57-amd64",
            "linux-image-6.1.0-57-cloud-amd64",
            "linux-image-amd64",
            "linux-image-cloud-amd64",
        )
    ),
)


@pytest.mark.parametrize(
    ("profile", "kernel", "meta", "left_out"),
    [
        (Profile.VM, "linux-image-6.1.0-57-cloud-amd64", "linux-image-cloud-amd64", "-57-amd64"),
        (Profile.METAL, "linux-image-6.1.0-57-amd64", "linux-image-amd64", "cloud"),
    ],
)
def test_a_profile_builds_from_its_kernel_only(
    profile: Profile, kernel: str, meta: str, left_out: str
) -> None:
    lock = BOTH.with_kernel(profile.kernel_flavour)
    assert lock.kernel(profile.kernel_flavour).name == kernel
    names = [p.name for p in lock.packages]
    assert names == sorted(["libc6", kernel, meta])
    assert not any(left_out in name for name in names)


def test_the_vm_build_unpacks_what_it_did_before_the_generic_kernel_was_locked() -> None:
    cloud_only = PackageLock(
        BOTH.roots,
        (),
        tuple(
            p
            for p in BOTH.packages
            if p.name.startswith(("libc", "linux-image-6.1.0-57-c", "linux-image-c"))
        ),
    )
    assert BOTH.with_kernel("cloud-amd64").packages == cloud_only.packages
    assert stage.lock_key(BOTH.with_kernel("cloud-amd64")) == stage.lock_key(cloud_only)


def test_two_kernels_of_one_flavour_are_refused() -> None:
    lock = PackageLock(BOTH.roots, (), (*BOTH.packages, _package("linux-image-6.1.0-58-amd64")))
    with pytest.raises(LockError, match="exactly one concrete amd64 kernel image, has "):
        lock.with_kernel("amd64").kernel("amd64")


def test_the_shipped_lock_holds_both_kernels_of_one_release() -> None:
    lock = load_lock()
    cloud, generic = lock.kernel("cloud-amd64"), lock.kernel("amd64")
    assert cloud.version == generic.version
    assert cloud.name.removesuffix("-cloud-amd64") == generic.name.removesuffix("-amd64")


def test_the_metal_drivers_cover_root_disks_and_common_nics() -> None:
    boot = metal_drivers(Stage.INITRAMFS)
    for disk in ("nvme", "ahci", "sd_mod", "megaraid_sas", "mpt3sas", "usb_storage", "xhci_pci"):
        assert disk in boot
    nics = metal_drivers(Stage.ROOT)
    for nic in ("e1000e", "igb", "ixgbe", "i40e", "ice", "mlx5_core", "bnxt_en", "tg3", "r8169"):
        assert nic in nics
    assert Profile.VM.coldplug_modules(Stage.ROOT) == ()
    assert Profile.METAL.boot_modules() == ("squashfs", "loop")
    assert "loop" in Profile.VM.boot_modules()  # the programs image is a loop device
    assert all(family for _, family in METAL_DRIVERS)


def test_soft_dependencies_before_a_module_count_as_dependencies() -> None:
    assert soft_predependencies(["pre: realtek"]) == ["realtek"]
    assert soft_predependencies(["pre: a b-c post: d", "post: e"]) == ["a", "b_c"]
