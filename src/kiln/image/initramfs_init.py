#!/usr/bin/python3.11 -IS
# ruff: noqa: PTH103, PTH106, PTH108, PTH110, PTH116, PTH118, PTH119, PTH120, PTH123, PTH208
"""The initramfs's init: from the kernel to ``kiln-machined`` as PID 1 on the squashfs root.

It runs on the initramfs's small Python (the image's own interpreter, a few standard modules,
ctypes) and needs nothing else: no shell, no busybox. Steps:

1. mount ``/dev`` (devtmpfs), ``/proc`` and ``/sys``;
2. load the kernel modules listed in ``/etc/kiln/modules`` in that order (dependencies first,
   worked out when the image was built) with ``finit_module``; on a metal image, also the
   storage drivers the devices present need (coldplug with ``kiln.machinery.kmodindex``,
   carried below ``/usr/lib/kiln``), again while waiting for the root, as
   controllers bring up their disks;
3. find the root: ``kiln.root=`` on the kernel command line names a device or, as
   ``kiln.root=PARTUUID=...`` or ``kiln.root=PARTLABEL=BOOT-A``, a GPT partition; without it,
   the first whole disk that starts with a squashfs superblock; mount it read-only;
4. attach the root's programs image (``/usr/lib/kiln/programs.squashfs``, the large Go
   programs, :mod:`kiln.image.programs`) to a free loop device, read-only, and mount it on
   ``/usr/lib/kiln/programs`` of the new root, where the root's links point;
5. mount tmpfs on ``/run`` and ``/tmp`` of the new root; when the root is a partition of an
   installed disk whose EPHEMERAL and STATE partitions hold ext4, mount them on ``/var`` and
   ``/system/state`` (else tmpfs on ``/var``: maintenance mode until a config is applied);
6. move ``/dev``, ``/proc`` and ``/sys`` into the new root, free the initramfs, and switch to
   it (``MS_MOVE`` + ``chroot``; the mounts below the new root move along);
7. exec ``/usr/bin/kiln-machined --mode metal`` (with ``--config-dir /system/state`` when
   STATE is mounted).

It uses ``os`` and ``open`` rather than pathlib: pathlib's imports are not in the initramfs.
A failure is printed on the console and the machine reboots after a pause, so that the
firmware's boot counting can fall back to the other slot: PID 1 must not exit (that panics
the kernel without saying why).
"""

import ctypes
import os
import struct
import sys
import time

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_MOVE = 1, 2, 4, 8, 8192
SYS_FINIT_MODULE = 313
RB_AUTOBOOT = 0x01234567
SQUASHFS_MAGIC = b"hsqs"
EXT4_MAGIC_OFFSET, EXT4_MAGIC = 1080, b"\x53\xef"
BREAK_MARKER = "/etc/kiln/break-boot"
STATE_MOUNT = "/system/state"
NEW_ROOT = "/newroot"
MODULES_LIST = "/etc/kiln/modules"
PROGRAMS_IMAGE = "/usr/lib/kiln/programs.squashfs"
PROGRAMS_MOUNT = "/usr/lib/kiln/programs"
LOOP_CTL_GET_FREE, LOOP_CONFIGURE = 0x4C82, 0x4C0A
LO_FLAGS_READ_ONLY, LO_FLAGS_AUTOCLEAR = 1, 4
# struct loop_config: fd, block_size, loop_info64 (device, inode, rdevice, offset, sizelimit,
# number, encrypt_type, encrypt_key_size, flags, file_name, crypt_name, encrypt_key, init),
# reserved
LOOP_CONFIG = "=II5Q4I64s64s32s2Q64x"
KILN_LIB = "/usr/lib/kiln"
ROOT_WAIT = 30.0
MACHINED = ["/usr/bin/kiln-machined", "--mode", "metal", "--state", "/var/lib/kiln"]
ENV = {"PATH": "/usr/sbin:/usr/bin", "LANG": "C.UTF-8", "HOME": "/var/lib/kiln"}

TYPE_CHECKING = False  # typing is not in the initramfs; mypy takes this name as true
if TYPE_CHECKING:
    from kiln.machinery import kmodindex

libc = ctypes.CDLL(None, use_errno=True)


def log(message: str) -> None:
    sys.stdout.write(f"[{time.monotonic():9.3f}] kiln-init: {message}\n")
    sys.stdout.flush()


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str = "") -> None:
    os.makedirs(target, exist_ok=True)
    check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def load_modules() -> None:
    try:
        with open(MODULES_LIST) as f:
            paths = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return
    release = os.uname().release
    for relative in paths:
        path = f"/lib/modules/{release}/{relative}"
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.syscall(SYS_FINIT_MODULE, fd, b"", 0) != 0:
                err = ctypes.get_errno()
                if err != 17:  # EEXIST: built in or already loaded
                    raise OSError(err, f"finit_module {relative}: {os.strerror(err)}")
        finally:
            os.close(fd)
    log(f"loaded {len(paths)} kernel modules")


def start_coldplug() -> "kmodindex.Coldplug | None":
    """The coldplug of a metal image's storage drivers, or None (no alias index)."""
    directory = f"/lib/modules/{os.uname().release}"
    if not os.path.exists(f"{directory}/modules.kiln.alias"):
        return None
    sys.path.insert(0, KILN_LIB)
    from kiln.machinery import kmodindex

    return kmodindex.Coldplug(directory)


def plug_devices(plug: "kmodindex.Coldplug | None") -> None:
    """Load the drivers of devices that appeared since the last call (if coldplugging)."""
    if plug is None:
        return
    failed = set(plug.failed)
    loaded = plug.scan()
    if loaded:
        log(f"coldplug loaded: {', '.join(loaded)}")
    for name in sorted(set(plug.failed) - failed):
        log(f"coldplug: {name} did not load: {plug.failed[name]}")


def kernel_args() -> dict[str, str]:
    with open("/proc/cmdline") as f:
        words = f.read().split()
    return {key: value for key, _, value in (word.partition("=") for word in words)}


def is_squashfs(device: str) -> bool:
    try:
        with open(device, "rb") as f:
            return f.read(4) == SQUASHFS_MAGIC
    except OSError:
        return False


def with_partname(directory: str, label: str) -> str:
    """The device among the entries of ``directory`` (in /sys) whose GPT name is ``label``."""
    for name in sorted(os.listdir(directory)):
        try:
            with open(f"{directory}/{name}/uevent") as f:
                if f"PARTNAME={label}\n" in f.read():
                    return f"/dev/{name}"
        except OSError:
            continue
    return ""


def partition_named(label: str) -> str:
    """The device of the GPT partition named ``label`` (its PARTNAME), or ""."""
    return with_partname("/sys/class/block", label)


def guid(raw: bytes) -> str:
    """A GPT GUID (mixed-endian bytes) as text, upper case."""
    head = (
        int.from_bytes(raw[0:4], "little"),
        int.from_bytes(raw[4:6], "little"),
        int.from_bytes(raw[6:8], "little"),
    )
    tail = f"{raw[8:10].hex().upper()}-{raw[10:16].hex().upper()}"
    return f"{head[0]:08X}-{head[1]:04X}-{head[2]:04X}-{tail}"


def partition_guids(disk: str) -> list[str]:
    """The unique GUIDs of the GPT partitions of ``/dev/disk``, by partition number - 1."""
    try:
        with open(f"/dev/{disk}", "rb") as f:
            header = f.read(1024)[512:]
            if header[:8] != b"EFI PART":
                return []
            start = int.from_bytes(header[72:80], "little") * 512
            count = int.from_bytes(header[80:84], "little")
            size = int.from_bytes(header[84:88], "little")
            f.seek(start)
            table = f.read(count * size)
    except OSError:
        return []
    return [guid(table[i * size + 16 : i * size + 32]) for i in range(count)]


def partition_by_guid(wanted: str) -> str:
    """The device of the GPT partition whose unique GUID is ``wanted``, or ""."""
    for disk in sorted(os.listdir("/sys/class/block")):
        if os.path.exists(f"/sys/class/block/{disk}/partition"):
            continue
        guids = partition_guids(disk)
        if wanted.upper() not in guids:
            continue
        number = str(guids.index(wanted.upper()) + 1)
        for name in os.listdir(f"/sys/class/block/{disk}"):
            try:
                with open(f"/sys/class/block/{disk}/{name}/partition") as f:
                    if f.read().strip() == number:
                        return f"/dev/{name}"
            except OSError:
                continue
    return ""


def sibling(device: str, label: str) -> str:
    """The partition named ``label`` on the disk holding partition ``device``, or ""."""
    name = os.path.basename(device)
    if not os.path.exists(f"/sys/class/block/{name}/partition"):
        return ""
    disk = os.path.basename(os.path.dirname(os.path.realpath(f"/sys/class/block/{name}")))
    return with_partname(f"/sys/class/block/{disk}", label)


def is_ext4(device: str) -> bool:
    try:
        with open(device, "rb") as f:
            f.seek(EXT4_MAGIC_OFFSET)
            return f.read(2) == EXT4_MAGIC
    except OSError:
        return False


def find_root(wanted: str, plug: "kmodindex.Coldplug | None") -> str:
    deadline = time.monotonic() + ROOT_WAIT
    while True:
        plug_devices(plug)
        if wanted.startswith("PARTUUID="):
            device = partition_by_guid(wanted.removeprefix("PARTUUID="))
            if device and is_squashfs(device):
                return device
        elif wanted.startswith("PARTLABEL="):
            device = partition_named(wanted.removeprefix("PARTLABEL="))
            if device and is_squashfs(device):
                return device
        elif wanted:
            if os.path.exists(wanted) and is_squashfs(wanted):
                return wanted
        else:
            for name in sorted(os.listdir("/sys/class/block")):
                if os.path.exists(f"/sys/class/block/{name}/partition"):
                    continue
                if is_squashfs(f"/dev/{name}"):
                    return f"/dev/{name}"
        if time.monotonic() > deadline:
            raise OSError(f"no squashfs root found ({wanted or 'no kiln.root= given'})")
        time.sleep(0.05)


def ioctl(fd: int, request: int, argument: object, what: str) -> int:
    result = int(libc.ioctl(fd, ctypes.c_ulong(request), argument))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def mount_programs(root: str) -> None:
    """Mount the programs image inside ``root`` on its mount point, through a read-only loop
    device that goes away with the mount (autoclear)."""
    image = root + PROGRAMS_IMAGE
    if not os.path.exists(image):
        raise OSError(f"programs image {PROGRAMS_IMAGE} missing from the root")
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    backing = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
    try:
        number = ioctl(control, LOOP_CTL_GET_FREE, 0, "no free loop device")
        device = f"/dev/loop{number}"
        loop = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
        try:
            info = (0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR)
            names = (PROGRAMS_IMAGE.encode(), b"", b"", 0, 0)
            config = struct.pack(LOOP_CONFIG, backing, 0, *info, *names)
            ioctl(loop, LOOP_CONFIGURE, ctypes.c_char_p(config), f"attach {image} to {device}")
            mount(device, root + PROGRAMS_MOUNT, "squashfs", MS_RDONLY | MS_NODEV)
            log(f"programs image on {device}, mounted on {PROGRAMS_MOUNT}")
        finally:
            os.close(loop)  # the mount holds the device now; autoclear frees it with the mount
    finally:
        os.close(backing)
        os.close(control)


def free_initramfs(path: str, device: int) -> None:
    """Remove the initramfs's files (their memory is otherwise lost), staying on it."""
    for entry in os.scandir(path):
        full = os.path.join(path, entry.name)
        if full == NEW_ROOT:
            continue
        info = entry.stat(follow_symlinks=False)
        if info.st_dev != device:
            continue
        if entry.is_dir(follow_symlinks=False):
            free_initramfs(full, device)
            os.rmdir(full)
        else:
            os.unlink(full)


def switch_root() -> None:
    device = os.stat("/").st_dev
    for point in ("/dev", "/proc", "/sys"):
        mount(point, NEW_ROOT + point, None, MS_MOVE)
    free_initramfs("/", device)
    os.chdir(NEW_ROOT)
    mount(".", "/", None, MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def main() -> None:
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    log("started")
    load_modules()
    args = kernel_args()
    root = find_root(args.get("kiln.root", ""), start_coldplug())
    mount(root, NEW_ROOT, "squashfs", MS_RDONLY | MS_NODEV)
    log(f"root {root} mounted read-only")
    mount_programs(NEW_ROOT)
    mount("tmpfs", NEW_ROOT + "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    mount("tmpfs", NEW_ROOT + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    argv = list(MACHINED)
    ephemeral, state = sibling(root, "EPHEMERAL"), sibling(root, "STATE")
    if ephemeral and state and is_ext4(ephemeral) and is_ext4(state):
        mount(ephemeral, NEW_ROOT + "/var", "ext4", MS_NOSUID | MS_NODEV)
        mount(state, NEW_ROOT + STATE_MOUNT, "ext4", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        argv += ["--config-dir", STATE_MOUNT]
        log(f"installed: {ephemeral} on /var, {state} on {STATE_MOUNT}")
    else:
        mount("tmpfs", NEW_ROOT + "/var", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.makedirs(NEW_ROOT + "/var/lib/kiln", mode=0o700, exist_ok=True)
    if os.path.exists(BREAK_MARKER):
        with open(BREAK_MARKER) as f:
            raise OSError(f.read().strip())
    switch_root()
    log("starting kiln-machined")
    os.execve(argv[0], argv, ENV)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - PID 1 reports anything, then powers off
        log(f"boot failed: {exc}; rebooting in 10s")
        time.sleep(10)
        os.sync()
        libc.reboot(RB_AUTOBOOT)
        while True:
            time.sleep(3600)
