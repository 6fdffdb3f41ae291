"""Kiln OS images: pinned Debian packages, the root filesystem, initramfs, manifest, signing.

``kilnctl image lock`` refreshes the package lock, ``kilnctl image build`` turns it (and this
source tree) into ``vmlinuz``, ``initramfs``, ``rootfs.squashfs`` and a signed ``manifest.json``.
"""
