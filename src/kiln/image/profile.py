"""What an image boots on (its profile): the kernel flavour and the drivers it carries.

The VM profile runs Debian's cloud kernel (small, virtio and the cloud NICs only) and loads a
fixed list of virtio drivers in its initramfs. The metal profile runs Debian's generic
kernel and carries the drivers of :data:`METAL_DRIVERS`; they are loaded for the hardware
present (modalias coldplug, :mod:`kiln.machinery.kmodindex`): storage by the initramfs, to
find the root, NICs by ``kiln-machined`` before DHCP.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where a driver is loaded: in the initramfs (to find the root) or by the node."""

    INITRAMFS = "initramfs"
    ROOT = "root"


# The metal image's drivers, one family a row: (where it is loaded, its modules). Only
# drivers that work without firmware files (the image carries none) or whose firmware is on
# the card. Dependencies (libata, scsi_mod, usbcore, libphy, ...) come along by themselves.
METAL_DRIVERS: tuple[tuple[Stage, tuple[str, ...]], ...] = (
    # NVMe SSDs: the boot disk of most current servers
    (Stage.INITRAMFS, ("nvme",)),
    # SATA in AHCI mode (on-board ports of nearly every x86 board); legacy IDE-mode SATA
    (Stage.INITRAMFS, ("ahci", "ata_piix", "ata_generic")),
    # disks behind the SCSI layer: SATA, SAS and USB disks all appear as sd devices
    (Stage.INITRAMFS, ("sd_mod",)),
    # hardware RAID and SAS HBAs: Broadcom/LSI MegaRAID (Dell PERC, Lenovo, ...), mpt3sas
    (Stage.INITRAMFS, ("megaraid_sas", "mpt3sas")),
    # booting from a USB stick: the host controllers (USB 3 and 2) and USB mass storage
    (Stage.INITRAMFS, ("xhci_pci", "ehci_pci", "usb_storage", "uas")),
    # virtual machines' disks (virtio-blk, virtio-scsi) behind virtio over PCI
    (Stage.INITRAMFS, ("virtio_pci", "virtio_blk", "virtio_scsi")),
    # Intel: e1000 (older boards, VMs), e1000e (on-board 1G), igb/igc (server 1G, 2.5G),
    # ixgbe/i40e/ice (10/25/40/100G), ixgbevf/iavf (their SR-IOV functions in clouds)
    (Stage.ROOT, ("e1000", "e1000e", "igb", "igc", "ixgbe", "ixgbevf", "i40e", "iavf", "ice")),
    # Mellanox/NVIDIA ConnectX-4 and later (25/100G, common in clusters)
    (Stage.ROOT, ("mlx5_core",)),
    # Broadcom: NetXtreme-C/E (bnxt_en, 10-200G) and on-board NetXtreme 1G (tg3)
    (Stage.ROOT, ("bnxt_en", "tg3")),
    # Realtek 1G/2.5G on-board NICs (small servers, edge boxes); its PHY driver is a softdep
    (Stage.ROOT, ("r8169",)),
    # virtual machines: virtio-net, VMware vmxnet3
    (Stage.ROOT, ("virtio_pci", "virtio_net", "vmxnet3")),
)


def metal_drivers(stage: Stage) -> tuple[str, ...]:
    """The driver modules of ``stage`` in :data:`METAL_DRIVERS`, each once, in table order."""
    found = [name for where, family in METAL_DRIVERS if where is stage for name in family]
    return tuple(dict.fromkeys(found))


class Profile(StrEnum):
    """What the image boots on: its kernel and the drivers it carries."""

    VM = "vm"
    METAL = "metal"

    @property
    def kernel_flavour(self) -> str:
        """The Debian kernel flavour (``linux-image-<abi>-<flavour>``) the image runs."""
        return "cloud-amd64" if self is Profile.VM else "amd64"

    def boot_modules(self) -> tuple[str, ...]:
        """What the initramfs always loads, in this order (filesystems, fixed drivers; loop
        for the programs image, :mod:`kiln.image.programs`)."""
        if self is Profile.VM:
            return ("virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "squashfs", "loop")
        return ("squashfs", "loop")

    def coldplug_modules(self, stage: Stage) -> tuple[str, ...]:
        """The drivers loaded at ``stage`` for the devices present (none on a VM image)."""
        return () if self is Profile.VM else metal_drivers(stage)
