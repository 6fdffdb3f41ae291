"""Kernel modules: which ones a boot needs and in which order to load them.

Debian's kernel package ships no ``modules.dep`` (depmod makes it on install), so dependencies
come from each module's own ``.modinfo`` (``depends=``). The order puts every module after
the modules it depends on, which is the order ``finit_module`` needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.image import elf
from kiln.image.errors import ImageError


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to /lib/modules/<release>
    depends: tuple[str, ...]


def canonical(name: str) -> str:
    """Module names treat ``-`` and ``_`` alike; the kernel uses ``_``."""
    return name.replace("-", "_")


def scan(release_dir: Path) -> dict[str, Module]:
    """Every uncompressed module under ``release_dir`` (``/lib/modules/<release>``) by name."""
    index = {}
    for path in sorted(release_dir.rglob("*.ko")):
        info = elf.module_info(path)
        name = canonical(info.get("name") or path.stem)
        depends = tuple(canonical(d) for d in info.get("depends", "").split(",") if d)
        index[name] = Module(name, str(path.relative_to(release_dir)), depends)
    return index


def load_order(wanted: Iterable[str], index: Mapping[str, Module]) -> list[Module]:
    """``wanted`` and everything they depend on, each after its dependencies.

    Ties keep the order of ``wanted``; ImageError names a module that is missing (or a
    dependency cycle, which a kernel build never has)."""
    order: list[Module] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(name: str, needed_by: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ImageError(f"kernel modules depend on each other in a cycle: {cycle}")
        module = index.get(name)
        if module is None:
            raise ImageError(f"kernel module {name!r} ({needed_by}) is not in the kernel package")
        visiting.append(name)
        for dependency in module.depends:
            visit(dependency, f"needed by {name}")
        visiting.pop()
        done.add(name)
        order.append(module)

    for name in wanted:
        visit(canonical(name), "asked for")
    return order
