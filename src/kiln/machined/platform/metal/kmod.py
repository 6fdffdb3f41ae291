"""Loading kernel modules by name, with what they depend on first, from the index the image
build wrote (``modules.kiln``, see :mod:`kiln.machinery.kmodindex`) with ``finit_module``;
and coldplug: the drivers of the devices present, where the image carries their aliases."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from kiln.machinery import kmodindex

logger = logging.getLogger(__name__)

COLDPLUG_ROUNDS = 4  # loaded drivers add devices (PHYs, auxiliary devices): scan again
COLDPLUG_SETTLE = 0.2  # seconds between rounds, for devices a driver adds asynchronously


def modules_dir() -> Path:
    return Path("/usr/lib/modules") / os.uname().release


def load(*names: str, directory: Path | None = None) -> None:
    """Load ``names`` (already loaded or built-in ones are fine); OSError if one fails."""
    base = directory or modules_dir()
    modules = kmodindex.parse_index((base / kmodindex.INDEX).read_text())
    try:
        order = kmodindex.load_order(list(names), modules)
    except KeyError as exc:
        raise OSError(f"kernel module {exc.args[0]} is not in the image") from None
    for name in order:
        kmodindex.finit_module(str(base / modules[name][0]))


def coldplug(directory: Path | None = None, sys_root: str = "/sys") -> list[str]:
    """Load the drivers the devices present need (the image's NIC drivers, on a metal
    image); returns what was loaded. Nothing happens where the image has no alias index
    (the VM image: its drivers are loaded by the initramfs)."""
    base = directory or modules_dir()
    if not (base / kmodindex.ALIASES).exists():
        return []
    plug = kmodindex.Coldplug(str(base))
    for _ in range(COLDPLUG_ROUNDS):
        if not plug.scan(sys_root):
            break
        time.sleep(COLDPLUG_SETTLE)
    for name, error in sorted(plug.failed.items()):
        logger.warning("coldplug: %s did not load: %s", name, error)
    logger.info("coldplug loaded: %s", ", ".join(plug.loaded) or "nothing")
    return plug.loaded
