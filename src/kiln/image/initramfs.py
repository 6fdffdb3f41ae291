"""The initramfs: the init program (:mod:`kiln.image.initramfs_init`), the image's Python
interpreter with the few standard modules it uses, and the kernel modules the boot needs:
the profile's fixed ones, listed in load order, and on a metal image the storage drivers
with their index and aliases (and :mod:`kiln.machinery.kmodindex`, which the init uses to
load those the hardware needs). Written as a reproducible cpio, compressed with zstd."""

from __future__ import annotations

import asyncio
import shutil
import stat
import tempfile
from pathlib import Path

from kiln import process
from kiln.image import cpio, modules, pyruntime, rootfs
from kiln.image.profile import Profile, Stage
from kiln.machinery import kmodindex

INIT_SOURCE = Path(__file__).with_name("initramfs_init.py")
STDLIB_FILES = (
    "os.py",
    "struct.py",
    "types.py",
    "encodings/__init__.py",
    "encodings/aliases.py",
    "encodings/utf_8.py",
    "encodings/latin_1.py",
    "encodings/ascii.py",
    "ctypes/__init__.py",
    "ctypes/_endian.py",
)
DEVICES = (
    cpio.Device("dev/console", stat.S_IFCHR | 0o600, 5, 1),
    cpio.Device("dev/null", stat.S_IFCHR | 0o666, 1, 3),
)
DIRECTORIES = ("dev", "proc", "sys", "newroot", "etc/kiln")
ZSTD_LEVEL = 19


#: where the init finds :mod:`kiln.machinery.kmodindex` (a metal image's initramfs only):
#: the module in its package, whose ``__init__`` files are left empty
KILN_LIB = "usr/lib/kiln"
KMODINDEX = "kiln/machinery/kmodindex.py"


async def assemble(staged: Path, release: str, profile: Profile, tree: Path) -> list[str]:
    """Build the initramfs tree at ``tree``; returns the modules it loads, in order."""
    loaded = await asyncio.to_thread(lay_out, staged, release, profile, tree)
    await pyruntime.compile_tree(tree, (pyruntime.STDLIB,))
    return loaded


def lay_out(staged: Path, release: str, profile: Profile, tree: Path) -> list[str]:
    """Everything of :func:`assemble` but byte-compiling."""
    rootfs.skeleton(tree)
    for directory in DIRECTORIES:
        (tree / directory).mkdir(parents=True, exist_ok=True)
    python = tree / "usr/bin/python3.11"
    shutil.copy2(staged / "usr/bin/python3.11", python)
    for name in STDLIB_FILES:
        stdlib_file = tree / pyruntime.STDLIB / name
        stdlib_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(staged / pyruntime.STDLIB / name, stdlib_file)
    ctypes_ext = next((staged / pyruntime.DYNLOAD).glob("_ctypes.cpython-*.so"))
    (tree / pyruntime.DYNLOAD).mkdir(parents=True)
    shutil.copy2(ctypes_ext, tree / pyruntime.DYNLOAD / ctypes_ext.name)
    rootfs.add_libraries(staged, tree, [python, tree / pyruntime.DYNLOAD / ctypes_ext.name])
    init = tree / "init"
    shutil.copyfile(INIT_SOURCE, init)
    init.chmod(0o755)
    release_dir = staged / "lib/modules" / release
    index = modules.scan(release_dir)
    order = modules.load_order(profile.boot_modules(), index)
    target = tree / "usr/lib/modules" / release
    modules.copy_files(order, release_dir, target)
    (tree / "etc/kiln/modules").write_text("".join(f"{m.path}\n" for m in order))
    coldplug = profile.coldplug_modules(Stage.INITRAMFS)
    if coldplug:
        plugged = modules.load_order(coldplug, index)
        modules.copy_indexed(plugged, release_dir, target, set(coldplug))
        lib = tree / KILN_LIB
        (lib / KMODINDEX).parent.mkdir(parents=True)
        for package in ("kiln", "kiln/machinery"):
            (lib / package / "__init__.py").write_text("")
        shutil.copyfile(kmodindex.__file__, lib / KMODINDEX)
        order += [m for m in plugged if m not in order]
    return [m.name for m in order]


async def pack(tree: Path, output: Path, mtime: int) -> None:
    """The tree as a zstd-compressed newc cpio at ``output``."""
    data = await asyncio.to_thread(cpio.archive, tree, DEVICES, mtime)
    done = await process.run(["zstd", "-q", f"-{ZSTD_LEVEL}", "-T1", "-c"], input=data, timeout=600)
    await asyncio.to_thread(output.write_bytes, done.stdout)


BREAK_MARKER = "etc/kiln/break-boot"


def append_break_marker(initramfs: Path) -> None:
    """Make ``initramfs`` fail its boot (tests of the firmware's fallback): a second, plain
    cpio holding :data:`BREAK_MARKER` is appended, at a 4-byte boundary as the kernel wants."""
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / BREAK_MARKER
        marker.parent.mkdir(parents=True)
        marker.write_text("this image was built to fail at boot (--break-boot)\n")
        extra = cpio.archive(Path(tmp))
    with initramfs.open("ab") as f:
        f.write(b"\0" * (-f.tell() % 512))
        f.write(extra)
