# ruff: noqa: PTH123, PTH208
"""The kernel-module index an image carries and loading drivers for the hardware present.

The image build writes, per module directory, ``modules.kiln`` (one line per module: name,
path below ``/lib/modules/<release>``, comma-separated dependencies) and, for coldplug,
``modules.kiln.alias`` (``alias <pattern> <module>`` lines, the kernel's ``modules.alias``
format, for the shipped modules only). Coldplug reads every device's ``modalias`` under
``/sys/bus/*/devices``, matches it against the patterns (shell globs: ``*``, ``?``,
``[...]``, as the kernel's own matching) and loads the matches, dependencies first, with
``finit_module``.

The initramfs's init imports this file too, so it uses only what the initramfs holds:
``os``, ``ctypes`` and built-ins (no pathlib, re or fnmatch; not even ``__future__``).
"""

import ctypes
import os

INDEX, ALIASES = "modules.kiln", "modules.kiln.alias"
SYS_FINIT_MODULE = 313
EEXIST = 17
_WILDCARDS = "*?["

Index = dict[str, tuple[str, list[str]]]


def index_lines(modules: list[tuple[str, str, tuple[str, ...]]]) -> str:
    """The ``modules.kiln`` text of ``(name, path, dependencies)`` entries."""
    return "".join(f"{name} {path} {','.join(deps)}\n" for name, path, deps in modules)


def alias_lines(aliases: list[tuple[str, str]]) -> str:
    """The ``modules.kiln.alias`` text of ``(pattern, module)`` entries."""
    return "".join(f"alias {pattern} {name}\n" for pattern, name in aliases)


def parse_index(listing: str) -> Index:
    """``{name: (path, dependencies)}`` from a ``modules.kiln`` text."""
    found = {}
    for line in listing.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2:
            deps = [d for d in parts[2].split(",") if d] if len(parts) > 2 else []
            found[parts[0]] = (parts[1], deps)
    return found


def load_order(names: list[str], modules: Index) -> list[str]:
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


def glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches the shell glob ``pattern`` (``*``, ``?``, ``[a-f]``,
    ``[!x]``), as ``fnmatch.fnmatchcase`` and the kernel's modalias matching do."""
    p = t = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star_p, star_t = p, t
            p += 1
            continue
        if p < len(pattern):
            step = _match_one(pattern, p, text[t])
            if step:
                p += step
                t += 1
                continue
        if star_p < 0:
            return False
        star_t += 1
        p, t = star_p + 1, star_t
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _match_one(pattern: str, p: int, char: str) -> int:
    """How many pattern characters at ``p`` matched ``char`` (0: no match)."""
    head = pattern[p]
    if head == "?":
        return 1
    if head != "[":
        return 1 if head == char else 0
    end = pattern.find("]", p + 2)
    if end < 0:  # an unclosed bracket is a literal '['
        return 1 if char == "[" else 0
    body = pattern[p + 1 : end]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    found, i = False, 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            found = found or body[i] <= char <= body[i + 2]
            i += 3
        else:
            found = found or body[i] == char
            i += 1
    return end - p + 1 if found != negate else 0


class AliasTable:
    """The patterns of a ``modules.kiln.alias`` text, grouped by their literal prefix (the
    part before the first wildcard), so that one modalias is compared with few patterns."""

    def __init__(self, text: str) -> None:
        self.by_prefix: dict[str, list[tuple[str, str]]] = {}
        for line in text.splitlines():
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != "alias":
                continue
            pattern, name = parts[1], parts[2]
            cut = min((i for i in map(pattern.find, _WILDCARDS) if i >= 0), default=len(pattern))
            self.by_prefix.setdefault(pattern[:cut], []).append((pattern, name))
        self.lengths = sorted({len(prefix) for prefix in self.by_prefix})

    def modules_for(self, modalias: str) -> list[str]:
        """The modules whose patterns match ``modalias``, in the order of the alias file."""
        found: list[str] = []
        for length in self.lengths:
            if length > len(modalias):
                break
            for pattern, name in self.by_prefix.get(modalias[:length], ()):
                if name not in found and glob_match(pattern, modalias):
                    found.append(name)
        return found


def device_modaliases(sys_root: str = "/sys") -> list[str]:
    """The ``modalias`` of every device on every bus, sorted, without repeats."""
    found = set()
    buses = f"{sys_root}/bus"
    for bus in _entries(buses):
        devices = f"{buses}/{bus}/devices"
        for device in _entries(devices):
            try:
                with open(f"{devices}/{device}/modalias") as f:
                    value = f.read().strip()
            except OSError:
                continue
            if value:
                found.add(value)
    return sorted(found)


def _entries(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def finit_module(path: str) -> None:
    """Load the module at ``path``; already loaded (or built in) is fine; OSError else."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.syscall(SYS_FINIT_MODULE, fd, b"", 0) != 0:
            err = ctypes.get_errno()
            if err != EEXIST:
                raise OSError(err, f"finit_module {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Coldplug:
    """Loads the drivers of the devices present, from the index in ``directory``; call
    :meth:`scan` again when devices may have appeared (a controller's disks, a bus's
    devices): modaliases already seen are not matched again."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        with open(f"{directory}/{INDEX}") as f:
            self.index = parse_index(f.read())
        with open(f"{directory}/{ALIASES}") as f:
            self.aliases = AliasTable(f.read())
        self.seen: set[str] = set()
        self.loaded: list[str] = []
        self.failed: dict[str, str] = {}

    def scan(self, sys_root: str = "/sys") -> list[str]:
        """Load what the devices not seen before need; returns the modules loaded now.
        A module that fails to load is kept in :attr:`failed` (the others still load)."""
        wanted: list[str] = []
        for modalias in device_modaliases(sys_root):
            if modalias in self.seen:
                continue
            self.seen.add(modalias)
            for name in self.aliases.modules_for(modalias):
                if name not in wanted and name not in self.loaded and name in self.index:
                    wanted.append(name)
        now: list[str] = []
        for name in load_order(wanted, self.index):
            if name in self.loaded or name in self.failed:
                continue
            try:
                finit_module(f"{self.directory}/{self.index[name][0]}")
            except OSError as exc:
                self.failed[name] = str(exc)
                continue
            self.loaded.append(name)
            now.append(name)
        return now
