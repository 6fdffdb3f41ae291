"""The A/B boot entries on the ESP, as pure functions over its directory.

systemd-boot reads ``loader/entries/slot-a.conf`` and ``slot-b.conf``. A slot being tried
after an upgrade has a boot counter in its name, ``slot-b+1-0.conf``: systemd-boot renames it
``slot-b+0-1.conf`` when it boots it, and an entry with no tries left sorts last, so the
firmware falls back to the other slot by itself if the new one never marks itself good.
Marking good drops the counter (``slot-b.conf``). ``loader.conf``'s ``default slot-*``
matches both slots; which one comes first is the ``sort-key`` (``kiln-1`` for the preferred
slot, ``kiln-2`` for the other). Each slot's directory on the ESP holds its kernel,
initramfs and ``release.json`` (the image's name and version), and ``failure.txt`` once the
slot was given up on for a reason the firmware cannot see (it booted but did not become
healthy in time).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

ENTRIES = "loader/entries"
LOADER_CONF = "loader/loader.conf"
LOADER_TEXT = "timeout 0\ndefault slot-*\neditor no\n"
RELEASE = "release.json"
FAILURE = "failure.txt"
SLOTS = ("A", "B")
PREFERRED_KEY, OTHER_KEY = "kiln-1", "kiln-2"
_NAME = re.compile(r"^slot-([ab])(?:\+(\d+)(?:-(\d+))?)?\.conf$")


class SlotState(StrEnum):
    GOOD = "good"  # booted and marked good (or installed)
    TRYING = "trying"  # counted: boots left before the firmware gives up on it
    BAD = "bad"  # no tries left: the firmware skips it
    EMPTY = "empty"  # no entry


@dataclass(frozen=True)
class Entry:
    slot: str
    filename: str
    tries_left: int | None  # None: not counted
    tries_done: int = 0

    @property
    def state(self) -> SlotState:
        if self.tries_left is None:
            return SlotState.GOOD
        return SlotState.BAD if self.tries_left == 0 else SlotState.TRYING


@dataclass(frozen=True)
class SlotInfo:
    slot: str
    state: SlotState
    version: str
    preferred: bool
    failure: str = ""  # why it was given up on, if it recorded it


def other(slot: str) -> str:
    return "B" if slot == "A" else "A"


def parse_name(filename: str) -> Entry | None:
    """The entry a file name in ``loader/entries`` stands for, or None if it is not a slot's."""
    found = _NAME.match(filename)
    if found is None:
        return None
    left = int(found[2]) if found[2] is not None else None
    return Entry(found[1].upper(), filename, left, int(found[3] or 0))


def entry_name(slot: str, tries: int | None) -> str:
    counter = f"+{tries}-0" if tries is not None else ""
    return f"slot-{slot.lower()}{counter}.conf"


def entry_text(slot: str, version: str, cmdline: str, root: str, preferred: bool) -> str:
    """A slot's entry: its kernel and initramfs under ``/SLOT``, its root ``root``
    (``PARTUUID=...`` or ``PARTLABEL=...``)."""
    return (
        f"title Kiln OS {version} (slot {slot})\n"
        f"sort-key {PREFERRED_KEY if preferred else OTHER_KEY}\n"
        f"linux /{slot}/vmlinuz\n"
        f"initrd /{slot}/initramfs\n"
        f"options {cmdline} kiln.root={root} kiln.slot={slot}\n"
    )


def entries(esp: Path) -> dict[str, Entry]:
    """The slots' entries found on the ESP, by slot."""
    found: dict[str, Entry] = {}
    directory = esp / ENTRIES
    names = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    for name in names:
        entry = parse_name(name)
        if entry is not None:
            found[entry.slot] = entry
    return found


def write_entry(esp: Path, slot: str, text: str, tries: int | None) -> Path:
    """Replace ``slot``'s entry by ``text``, counted with ``tries`` boots (None: not counted)."""
    old = entries(esp).get(slot)
    target = esp / ENTRIES / entry_name(slot, tries)
    _write(target, text)
    if old is not None and old.filename != target.name:
        (esp / ENTRIES / old.filename).unlink()
    return target


def remove_entry(esp: Path, slot: str) -> None:
    old = entries(esp).get(slot)
    if old is not None:
        (esp / ENTRIES / old.filename).unlink()


def prefer(esp: Path, slot: str) -> None:
    """Make ``slot`` the one systemd-boot picks first (while it has tries left)."""
    for entry in entries(esp).values():
        path = esp / ENTRIES / entry.filename
        key = PREFERRED_KEY if entry.slot == slot else OTHER_KEY
        lines = path.read_text().splitlines()
        text = "".join(
            (f"sort-key {key}" if line.startswith("sort-key ") else line) + "\n" for line in lines
        )
        _write(path, text)


def preferred(esp: Path) -> str | None:
    """The slot whose entry has the preferred sort key, if any."""
    for entry in entries(esp).values():
        if f"sort-key {PREFERRED_KEY}\n" in (esp / ENTRIES / entry.filename).read_text():
            return entry.slot
    return None


def mark_good(esp: Path, slot: str) -> bool:
    """Drop ``slot``'s boot counter (it booted and is healthy); True if it was counted."""
    entry = entries(esp).get(slot)
    if entry is None or entry.tries_left is None:
        return False
    (esp / ENTRIES / entry.filename).replace(esp / ENTRIES / entry_name(slot, None))
    return True


def release(esp: Path, slot: str) -> dict[str, str]:
    try:
        data = json.loads((esp / slot / RELEASE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_release(esp: Path, slot: str, name: str, version: str) -> None:
    _write(esp / slot / RELEASE, json.dumps({"name": name, "version": version}) + "\n")


def failure(esp: Path, slot: str) -> str:
    try:
        return (esp / slot / FAILURE).read_text().strip()
    except OSError:
        return ""


def write_failure(esp: Path, slot: str, reason: str) -> None:
    _write(esp / slot / FAILURE, reason + "\n")


def clear_failure(esp: Path, slot: str) -> None:
    (esp / slot / FAILURE).unlink(missing_ok=True)


def slots(esp: Path) -> list[SlotInfo]:
    """Both slots: their entry's state, version, and which one is preferred."""
    found = entries(esp)
    first = preferred(esp)
    return [
        SlotInfo(
            slot,
            found[slot].state if slot in found else SlotState.EMPTY,
            release(esp, slot).get("version", ""),
            slot == first,
            failure(esp, slot),
        )
        for slot in SLOTS
    ]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    temporary.replace(path)
