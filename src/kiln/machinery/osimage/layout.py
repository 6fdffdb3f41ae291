"""The partitions of a Kiln OS disk, in order, and their sizes.

::

    EFI        FAT32, systemd-boot; /A and /B hold each slot's kernel and initramfs
    BOOT-A     the root squashfs of slot A (written raw)
    BOOT-B     slot B's root (written by an upgrade)
    META       small, for what the installer records
    STATE      ext4 on /system/state: the machine config
    EPHEMERAL  ext4 on /var: everything else the node keeps (etcd, logs, services)
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20
SECTOR = 512
ESP_TYPE = "ef00"
LINUX_TYPE = "8300"
EFI, BOOT_A, BOOT_B, META, STATE, EPHEMERAL = (
    "EFI",
    "BOOT-A",
    "BOOT-B",
    "META",
    "STATE",
    "EPHEMERAL",
)
STATE_MOUNT = "/system/state"
BOOT_FILES = "/usr/lib/kiln/boot"  # in the root: systemd-bootx64.efi
TRUSTED_KEY = "/usr/share/kiln/image-signing.pub"  # in the root: the key upgrades need


@dataclass(frozen=True)
class Partition:
    name: str
    size_mib: int
    type_code: str = LINUX_TYPE


LAYOUT = (
    Partition(EFI, 100, ESP_TYPE),
    Partition(BOOT_A, 256),
    Partition(BOOT_B, 256),
    Partition(META, 1),
    Partition(STATE, 100),
    Partition(EPHEMERAL, 1024),
)
FIRST_MIB = 1
DISK_MIB = FIRST_MIB + sum(p.size_mib for p in LAYOUT) + 1  # 1 MiB for the backup GPT


def offsets() -> dict[str, tuple[int, int]]:
    """Each partition's (first sector, last sector)."""
    result = {}
    start = FIRST_MIB * MIB // SECTOR
    for part in LAYOUT:
        count = part.size_mib * MIB // SECTOR
        result[part.name] = (start, start + count - 1)
        start += count
    return result


def sgdisk_arguments(guids: dict[str, str]) -> list[str]:
    """sgdisk's arguments making the layout, with the partition GUIDs in ``guids``."""
    spans = offsets()
    argv = []
    for number, part in enumerate(LAYOUT, start=1):
        first, last = spans[part.name]
        argv += [
            f"--new={number}:{first}:{last}",
            f"--typecode={number}:{part.type_code}",
            f"--change-name={number}:{part.name}",
            f"--partition-guid={number}:{guids[part.name]}",
        ]
    return argv
