"""The QEMU provisioner: a local cluster of VMs booted from a built Kiln OS image."""
