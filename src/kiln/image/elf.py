"""Just enough of ELF (64-bit, little-endian) to ask two questions of a file: which shared
libraries it needs (``DT_NEEDED``) and what a kernel module says about itself (``.modinfo``).
"""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = b"\x7fELF"
_SHT_DYNAMIC = 6
_DT_NEEDED = 1


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


class _Elf:
    def __init__(self, data: bytes, where: str) -> None:
        if data[:4] != MAGIC or data[4] != 2 or data[5] != 1:
            raise ValueError(f"{where}: not a 64-bit little-endian ELF file")
        self.data = data
        (self.phoff, self.shoff) = struct.unpack_from("<QQ", data, 0x20)
        (self.phentsize, self.phnum, self.shentsize, self.shnum, self.shstrndx) = (
            struct.unpack_from("<HHHHH", data, 0x36)
        )

    def sections(self) -> list[tuple[str, int, int, int, int]]:
        """(name, type, offset, size, link) of every section."""
        raw = [
            struct.unpack_from("<IIQQQQI", self.data, self.shoff + i * self.shentsize)
            for i in range(self.shnum)
        ]
        if not raw:
            return []
        names_offset = raw[self.shstrndx][4]
        result = []
        for name, kind, _flags, _addr, offset, size, link in raw:
            result.append((self._string(names_offset + name), kind, offset, size, link))
        return result

    def _string(self, offset: int) -> str:
        end = self.data.index(b"\0", offset)
        return self.data[offset:end].decode("utf-8", "replace")

    def needed(self) -> list[str]:
        sections = self.sections()
        for _name, kind, offset, size, link in sections:
            if kind != _SHT_DYNAMIC:
                continue
            strtab = sections[link][2]
            found = []
            for i in range(0, size, 16):
                tag, value = struct.unpack_from("<qQ", self.data, offset + i)
                if tag == _DT_NEEDED:
                    found.append(self._string(strtab + value))
                elif tag == 0:
                    break
            return found
        return []

    def modinfo(self) -> dict[str, list[str]]:
        for name, _kind, offset, size, _link in self.sections():
            if name == ".modinfo":
                info: dict[str, list[str]] = {}
                for entry in self.data[offset : offset + size].split(b"\0"):
                    key, equals, value = entry.decode("utf-8", "replace").partition("=")
                    if equals:
                        info.setdefault(key, []).append(value)
                return info
        return {}


def needed_libraries(path: Path) -> list[str]:
    """The ``DT_NEEDED`` entries of an executable or shared library (empty if static)."""
    return _Elf(path.read_bytes(), str(path)).needed()


def module_info(path: Path) -> dict[str, list[str]]:
    """A kernel module's ``.modinfo``: every value of each key (name, depends, alias, ...)."""
    return _Elf(path.read_bytes(), str(path)).modinfo()
