"""Kernel modules: which ones a boot needs and in which order to load them.

Debian's kernel package ships no ``modules.dep`` or ``modules.alias`` (depmod makes them on
install), so dependencies and aliases come from each module's own ``.modinfo``: ``depends=``,
the ``pre:`` modules of ``softdep=`` (r8169 needs its PHY driver, ``realtek``, first) and
``alias=``. The order puts every module after the modules it depends on, which is the order
``finit_module`` needs. What is copied into an image is indexed for the node
(:mod:`kiln.machinery.kmodindex`).
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.image import elf
from kiln.image.errors import ImageError
from kiln.machinery import kmodindex


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to /lib/modules/<release>
    depends: tuple[str, ...]  # with the ``softdep`` ``pre:`` modules the kernel holds
    aliases: tuple[str, ...] = ()


def canonical(name: str) -> str:
    """Module names treat ``-`` and ``_`` alike; the kernel uses ``_``."""
    return name.replace("-", "_")


def scan(release_dir: Path) -> dict[str, Module]:
    """Every uncompressed module under ``release_dir`` (``/lib/modules/<release>``) by name."""
    infos = {}
    for path in sorted(release_dir.rglob("*.ko")):
        info = elf.module_info(path)
        name = canonical((info.get("name") or [path.stem])[0])
        infos[name] = (path, info)
    index = {}
    for name, (path, info) in infos.items():
        depends = [canonical(d) for d in (info.get("depends") or [""])[0].split(",") if d]
        depends += [d for d in soft_predependencies(info.get("softdep", [])) if d in infos]
        aliases = tuple(info.get("alias", []))
        relative = str(path.relative_to(release_dir))
        index[name] = Module(name, relative, tuple(dict.fromkeys(depends)), aliases)
    return index


def soft_predependencies(softdeps: Iterable[str]) -> list[str]:
    """The module names after ``pre:`` in ``softdep`` values (``pre: a b post: c``)."""
    found = []
    for value in softdeps:
        section = ""
        for word in value.split():
            if word.endswith(":"):
                section = word
            elif section == "pre:":
                found.append(canonical(word))
    return found


def copy_indexed(
    order: list[Module], release_dir: Path, target: Path, plugged: Collection[str] = ()
) -> None:
    """Copy ``order`` from ``release_dir`` into ``target`` (a ``/lib/modules/<release>``)
    with their index, and the alias index (for coldplug) of those named in ``plugged``."""
    copy_files(order, release_dir, target)
    target.mkdir(parents=True, exist_ok=True)
    (target / kmodindex.INDEX).write_text(
        kmodindex.index_lines([(m.name, m.path, m.depends) for m in order])
    )
    if plugged:
        (target / kmodindex.ALIASES).write_text(
            kmodindex.alias_lines(
                [(a, m.name) for m in order if m.name in plugged for a in m.aliases]
            )
        )


def copy_files(order: Iterable[Module], release_dir: Path, target: Path) -> None:
    """The files of ``order`` from ``release_dir`` to the same places under ``target``."""
    for module in order:
        module_file = target / module.path
        module_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(release_dir / module.path, module_file)


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
