"""How a cluster's VMs boot: PXE-style from kernel and initramfs when they run from memory,
or through UEFI from a disk of their own with the image's ISO behind it when they install."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.provision.errors import ProvisionError
from kiln.provision.qemu import vms
from kiln.provision.record import ClusterRecord, NodeRecord
from kiln.provision.request import ClusterRequest, NodeRole, VMImage, VMResources


def image(tmp_path: Path, iso: bool = True) -> VMImage:
    return VMImage(
        kernel=tmp_path / "vmlinuz",
        initramfs=tmp_path / "initramfs.img",
        root=tmp_path / "rootfs.squashfs",
        cmdline="console=ttyS0",
        iso=tmp_path / "kiln.iso" if iso else None,
    )


def record(tmp_path: Path) -> tuple[ClusterRecord, NodeRecord]:
    node = NodeRecord(name="vms-controlplane-1", role=NodeRole.CONTROLPLANE, address="127.0.0.9")
    found = ClusterRecord(name="vms", state_dir=str(tmp_path / "vms"), nodes=[node])
    return found, node


def test_a_vm_that_installs_boots_its_disk_then_the_iso_through_uefi(tmp_path: Path) -> None:
    cluster, node = record(tmp_path)
    spec = vms.vm_spec(cluster, node, image(tmp_path), VMResources(disk_gib=4))
    argv = spec.argv("tcg")
    assert spec.kernel is None and "-kernel" not in argv
    assert spec.reboot and "-no-reboot" not in argv  # it reboots into what it installed
    drives = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-drive"]
    disk = cluster.node_dir(node) / vms.DISK
    assert drives.index(f"file={disk},format=raw,if=virtio") < drives.index(
        f"file={tmp_path / 'kiln.iso'},format=raw,if=virtio,readonly=on"
    )  # the disk is /dev/vda; the ISO, shared by every VM, is never written
    vms.prepare_disks(spec, 4)
    assert disk.stat().st_size == 4 << 30 and disk.stat().st_blocks == 0  # sparse
    assert spec.uefi_vars is not None and spec.uefi_vars.stat().st_size > 0
    disk.write_bytes(b"installed")
    vms.prepare_disks(spec, 4)
    assert disk.read_bytes() == b"installed"  # started again: keeps what it installed


def test_a_diskless_vm_boots_kernel_and_initramfs(tmp_path: Path) -> None:
    cluster, node = record(tmp_path)
    spec = vms.vm_spec(cluster, node, image(tmp_path), VMResources(disk_gib=0))
    argv = spec.argv("tcg")
    assert argv[argv.index("-kernel") + 1] == str(tmp_path / "vmlinuz")
    assert not spec.disks and spec.media is None and "-no-reboot" in argv


def test_installing_needs_the_iso(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match=r"has no kiln\.iso"):
        ClusterRequest("vms", image=image(tmp_path, iso=False), vm=VMResources(disk_gib=4))
    assert ClusterRequest("vms", image=image(tmp_path), vm=VMResources(disk_gib=4)).installs
    assert not ClusterRequest("vms", vm=VMResources(disk_gib=4)).installs  # no image: processes


def test_the_hub_to_join_goes_where_each_kind_of_vm_reads_it(tmp_path: Path) -> None:
    cluster, node = record(tmp_path)
    hub = ["kiln.hub=https://10.5.0.1:8443", "kiln.join_token=a.b,c"]
    diskless = vms.vm_spec(cluster, node, image(tmp_path), VMResources(), hub).argv("tcg")
    assert diskless[diskless.index("-append") + 1].endswith(" ".join(hub))
    assert "-smbios" not in diskless
    installing = vms.vm_spec(cluster, node, image(tmp_path), VMResources(disk_gib=4), hub)
    argv = installing.argv("tcg")  # no kernel command line: the firmware's OEM strings
    assert argv[argv.index("-smbios") + 1] == (
        "type=11,value=kiln.hub=https://10.5.0.1:8443,value=kiln.join_token=a.b,,c"
    )


def test_a_vm_keeps_its_machine_uuid_and_another_cluster_gets_another(tmp_path: Path) -> None:
    cluster, node = record(tmp_path)
    first = vms.vm_spec(cluster, node, image(tmp_path), VMResources(disk_gib=4))
    again = vms.vm_spec(cluster, node, image(tmp_path), VMResources())
    assert first.uuid is not None and first.uuid == again.uuid  # installed or not, rebooted
    argv = first.argv("tcg")
    assert argv[argv.index("-uuid") + 1] == first.uuid
    other, _ = record(tmp_path / "other")
    assert vms.vm_spec(other, node, image(tmp_path), VMResources()).uuid != first.uuid
