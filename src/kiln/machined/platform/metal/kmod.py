"""Loading kernel modules by name, with what they depend on first, from the list the image
build wrote (``modules.kiln``: name, path, dependencies per line) with ``finit_module``."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

SYS_FINIT_MODULE = 313
EEXIST = 17
_libc = ctypes.CDLL(None, use_errno=True)


def modules_dir() -> Path:
    return Path("/usr/lib/modules") / os.uname().release


def index(listing: str) -> dict[str, tuple[str, list[str]]]:
    """``{name: (path, dependencies)}`` from a ``modules.kiln`` text."""
    found = {}
    for line in listing.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2:
            deps = [d for d in parts[2].split(",") if d] if len(parts) > 2 else []
            found[parts[0]] = (parts[1], deps)
    return found


def load_order(names: list[str], modules: dict[str, tuple[str, list[str]]]) -> list[str]:
    """``names`` and their dependencies, each after what it depends on; KeyError if unknown."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dependency in modules[name][1]:
            visit(dependency)
        order.append(name)

    for name in names:
        visit(name)
    return order


def load(*names: str, directory: Path | None = None) -> None:
    """Load ``names`` (already loaded or built-in ones are fine); OSError if one fails."""
    base = directory or modules_dir()
    modules = index((base / "modules.kiln").read_text())
    try:
        order = load_order(list(names), modules)
    except KeyError as exc:
        raise OSError(f"kernel module {exc.args[0]} is not in the image") from None
    for name in order:
        fd = os.open(base / modules[name][0], os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.syscall(SYS_FINIT_MODULE, fd, b"", 0) != 0:
                err = ctypes.get_errno()
                if err != EEXIST:
                    raise OSError(err, f"finit_module {name}: {os.strerror(err)}")
        finally:
            os.close(fd)
