"""SMBIOS OEM strings (structure type 11): ``key=value`` text a machine's firmware carries.

Hypervisors and BMCs set them per machine (QEMU: ``-smbios type=11,value=kiln.hub=...``), so a
machine booted from a shared ISO or disk image can still be told which hub to join, as the
kernel command line tells a machine booted from the network.
"""

from __future__ import annotations

from pathlib import Path

DMI_TABLE = Path("/sys/firmware/dmi/tables/DMI")
OEM_STRINGS = 11
END_OF_TABLE = 127


def oem_strings(table: bytes) -> list[str]:
    """The strings of every type 11 structure of a raw SMBIOS table, in order."""
    found: list[str] = []
    offset = 0
    while offset + 4 <= len(table):
        kind, length = table[offset], table[offset + 1]
        if length < 4:
            break  # a broken table: stop rather than loop
        strings_at = offset + length
        end = table.find(b"\0\0", strings_at)
        if end == -1:
            break
        if kind == OEM_STRINGS:
            area = table[strings_at:end]
            found += [s.decode("utf-8", "replace") for s in area.split(b"\0") if s]
        if kind == END_OF_TABLE:
            break
        offset = end + 2
    return found


def oem_arguments(table: Path = DMI_TABLE) -> dict[str, str]:
    """``key=value`` OEM strings of this machine's firmware (none if it has no table)."""
    try:
        raw = table.read_bytes()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for text in oem_strings(raw):
        key, equals, value = text.partition("=")
        if equals and key:
            found[key] = value
    return found
