"""The metal node's view of its disks (a fake ``/sys``), the installed
kernel command line and the checks an uploaded image goes through."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kiln.image import manifest
from kiln.machined.errors import InvalidRequestError
from kiln.machined.platform.metal import blockdev, install, pid1, upload
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import SecretsBundle

MOUNTINFO = """\
22 1 254:2 / / ro,relatime - squashfs /dev/vda2 ro
23 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw
30 22 254:6 / /var rw,nosuid,nodev - ext4 /dev/vda6 rw
"""


def _sys_block(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    disk = root / "devices/vda"
    disk.mkdir(parents=True)
    (disk / "uevent").write_text("DEVTYPE=disk\nDEVNAME=vda\n")
    (disk / "size").write_text("3600000\n")
    links = root / "class/block"
    links.mkdir(parents=True)
    (links / "vda").symlink_to(disk)
    for number, name in enumerate(["EFI", "BOOT-A", "BOOT-B", "STATE"], start=1):
        part = disk / f"vda{number}"
        part.mkdir()
        (part / "partition").write_text(f"{number}\n")
        (part / "uevent").write_text(f"DEVTYPE=partition\nPARTN={number}\nPARTNAME={name}\n")
        (links / f"vda{number}").symlink_to(part)
    return links


def test_the_mount_table_says_what_is_read_only() -> None:
    table = pid1.mount_table(MOUNTINFO)
    assert table["/"] == ("/dev/vda2", "squashfs", "ro,relatime")
    assert table["/var"] == ("/dev/vda6", "ext4", "rw,nosuid,nodev")


def test_the_root_device_comes_from_mountinfo() -> None:
    assert blockdev.root_device(MOUNTINFO) == "/dev/vda2"
    assert blockdev.root_device("22 1 0:2 / / rw - tmpfs tmpfs rw\n") == ""


def test_a_partition_belongs_to_its_disk_and_partitions_go_by_name(tmp_path: Path) -> None:
    links = _sys_block(tmp_path)
    assert blockdev.disk_of("/dev/vda2", links) == "vda"
    assert blockdev.disk_of("/dev/vda", links) == "vda"
    assert blockdev.partitions("vda", links) == {
        "EFI": "/dev/vda1",
        "BOOT-A": "/dev/vda2",
        "BOOT-B": "/dev/vda3",
        "STATE": "/dev/vda4",
    }
    assert blockdev.size_of("/dev/vda", links) == 3600000 * 512


def test_the_squashfs_size_is_read_from_its_superblock(tmp_path: Path) -> None:
    device = tmp_path / "dev"
    device.write_bytes(b"hsqs" + bytes(36) + (5000).to_bytes(8, "little") + bytes(100))
    assert blockdev.squashfs_size(str(device)) == 8192
    device.write_bytes(bytes(100))
    with pytest.raises(OSError, match="no squashfs"):
        blockdev.squashfs_size(str(device))


def test_installed_slots_boot_with_this_command_line_but_their_own_root() -> None:
    line = "BOOT_IMAGE=/A/vmlinuz console=ttyS0 ro kiln.root=PARTLABEL=BOOT-A kiln.slot=A\n"
    assert install.boot_cmdline(line, ["quiet"]) == "console=ttyS0 ro quiet"


def test_a_missing_disk_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="/dev/nonexistent: no such disk"):
        install.check_disk("/dev/nonexistent")
    regular = tmp_path / "file"
    regular.write_text("")
    with pytest.raises(InvalidRequestError, match="not a block device"):
        install.check_disk(str(regular))


def test_an_install_takes_the_kernel_from_the_boot_medium_of_the_booted_slot(
    tmp_path: Path,
) -> None:
    links = _sys_block(tmp_path)
    assert install.boot_medium_esp("/dev/vda2", links) == "/dev/vda1"
    assert install.booted_slot("console=ttyS0 kiln.slot=B") == "B"
    assert install.booted_slot("console=ttyS0 kiln.root=PARTLABEL=KILN-ROOT") == "A"
    medium = tmp_path / "esp"
    (medium / "B").mkdir(parents=True)
    (medium / "B" / "vmlinuz").write_bytes(b"kernel")
    with pytest.raises(InvalidRequestError, match="partition /dev/vda1 has no B/initramfs"):
        install.kernel_files(medium, "/dev/vda1", "B")
    (medium / "B" / "initramfs").write_bytes(b"initrd")
    assert install.kernel_files(medium, "/dev/vda1", "B") == medium / "B"


def test_a_root_on_a_bare_squashfs_disk_cannot_install(tmp_path: Path) -> None:
    """Kernel and initramfs from the network, the root a whole disk: nothing to copy them
    from, said before anything is written."""
    root = tmp_path / "sys"
    (root / "devices/vdb").mkdir(parents=True)
    (root / "devices/vdb/uevent").write_text("DEVTYPE=disk\nDEVNAME=vdb\n")
    (root / "class/block").mkdir(parents=True)
    (root / "class/block/vdb").symlink_to(root / "devices/vdb")
    with pytest.raises(InvalidRequestError, match="boot the image's ISO or disk image"):
        install.boot_medium_esp("/dev/vdb", root / "class/block")


def _signed_image(tmp_path: Path) -> tuple[Path, bytes, dict[str, bytes]]:
    private, public = manifest.generate_key(tmp_path / "keys")
    files = {"vmlinuz": b"kernel" * 10, "initramfs": b"initrd" * 10, "rootfs.squashfs": b"hsqs" * 9}
    image = tmp_path / "image"
    image.mkdir()
    artifacts = {}
    for name, data in files.items():
        artifacts[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (image / manifest.MANIFEST).write_bytes(
        manifest.encode({"version": "2.0", "artifacts": artifacts})
    )
    manifest.sign(image, manifest.load_private_key(private))
    return image, public.read_bytes(), files


def test_an_upload_signed_by_the_trusted_key_is_accepted(tmp_path: Path) -> None:
    image, public, files = _signed_image(tmp_path)
    receiver = upload.ImageUpload(tmp_path / "upload", public)
    found = receiver.begin(
        (image / manifest.MANIFEST).read_bytes(), (image / manifest.SIGNATURE).read_bytes()
    )
    assert found["version"] == "2.0"
    for name, data in files.items():
        receiver.write(name, data[:5])
        receiver.write(name, data[5:])
    receiver.finish()
    assert (tmp_path / "upload/vmlinuz").read_bytes() == files["vmlinuz"]


def test_a_changed_artifact_or_manifest_or_another_key_is_refused(tmp_path: Path) -> None:
    image, public, files = _signed_image(tmp_path)
    data, sig = (image / manifest.MANIFEST).read_bytes(), (image / manifest.SIGNATURE).read_bytes()
    receiver = upload.ImageUpload(tmp_path / "upload", public)
    receiver.begin(data, sig)
    for name, content in files.items():
        receiver.write(name, content[:-1] + b"!" if name == "initramfs" else content)
    with pytest.raises(InvalidRequestError, match="initramfs has SHA-256"):
        receiver.finish()
    larger = upload.ImageUpload(tmp_path / "u1", public)
    larger.begin(data, sig)
    with pytest.raises(InvalidRequestError, match="vmlinuz is larger than its manifest says"):
        larger.write("vmlinuz", files["vmlinuz"] + b"more")
    changed = json.loads(data)
    changed["version"] = "3.0"
    with pytest.raises(InvalidRequestError, match="signature does not match"):
        upload.ImageUpload(tmp_path / "u2", public).begin(manifest.encode(changed), sig)
    _, other_public = manifest.generate_key(tmp_path / "other")
    with pytest.raises(InvalidRequestError, match="signature does not match"):
        upload.ImageUpload(tmp_path / "u3", other_public.read_bytes()).begin(data, sig)


async def test_an_install_carries_the_hub_identity_to_the_installed_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[dict[str, Path] | None] = []

    async def installing(config: object, carry: dict[str, Path] | None = None) -> None:
        asked.append(carry)

    monkeypatch.setattr(install, "install", installing)
    secrets = SecretsBundle.generate()
    config = generate_configs("c", "https://10.0.0.1:6443", secrets).worker  # /dev/sda
    await install.carrying(Path("/var/lib/kiln"), ("hub",))(config)
    assert asked == [{"lib/kiln/hub": Path("/var/lib/kiln/hub")}]  # where the new /var has it
    await install.carrying(Path("/tmp/node"), ("hub",))(config)
    assert asked[-1] == {}  # a state directory outside /var: nothing to carry
