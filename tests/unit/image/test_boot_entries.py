"""The A/B boot entries on an ESP: counters, preference, marking good, what each slot holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.machinery.osimage import bootentries
from kiln.machinery.osimage.bootentries import SlotState


def _entry(slot: str, preferred: bool) -> str:
    return bootentries.entry_text(slot, "1.0", "console=ttyS0", f"PARTUUID={slot}", preferred)


@pytest.fixture
def esp(tmp_path: Path) -> Path:
    bootentries.write_entry(tmp_path, "A", _entry("A", True), tries=None)
    bootentries.write_release(tmp_path, "A", "kiln-os", "1.0")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "slot", "left", "state"),
    [
        ("slot-a.conf", "A", None, SlotState.GOOD),
        ("slot-b+1-0.conf", "B", 1, SlotState.TRYING),
        ("slot-b+0-1.conf", "B", 0, SlotState.BAD),
        ("slot-a+3.conf", "A", 3, SlotState.TRYING),
    ],
)
def test_entry_names_carry_the_boot_counter(
    name: str, slot: str, left: int | None, state: SlotState
) -> None:
    entry = bootentries.parse_name(name)
    assert entry is not None
    assert (entry.slot, entry.tries_left, entry.state) == (slot, left, state)


@pytest.mark.parametrize("name", ["slot-c.conf", "other.conf", "slot-a.conf.tmp", "slot-a+x.conf"])
def test_other_files_are_not_slot_entries(name: str) -> None:
    assert bootentries.parse_name(name) is None


def test_an_entry_boots_its_own_kernel_and_root(esp: Path) -> None:
    text = (esp / "loader/entries/slot-a.conf").read_text()
    assert "linux /A/vmlinuz\ninitrd /A/initramfs\n" in text
    assert text.endswith("options console=ttyS0 kiln.root=PARTUUID=A kiln.slot=A\n")


def test_a_new_slot_is_counted_and_preferred_then_marked_good(esp: Path) -> None:
    bootentries.write_entry(esp, "B", _entry("B", True), tries=1)
    bootentries.prefer(esp, "B")
    assert sorted(p.name for p in (esp / "loader/entries").iterdir()) == [
        "slot-a.conf",
        "slot-b+1-0.conf",
    ]
    assert bootentries.preferred(esp) == "B"
    assert "sort-key kiln-2" in (esp / "loader/entries/slot-a.conf").read_text()
    # systemd-boot renames the entry when it boots it
    (esp / "loader/entries/slot-b+1-0.conf").rename(esp / "loader/entries/slot-b+0-1.conf")
    assert bootentries.mark_good(esp, "B")
    assert bootentries.entries(esp)["B"].state is SlotState.GOOD
    assert not bootentries.mark_good(esp, "B")  # already good


def test_a_slot_with_no_tries_left_is_bad_and_the_other_can_be_preferred_again(esp: Path) -> None:
    bootentries.write_entry(esp, "B", _entry("B", True), tries=1)
    (esp / "loader/entries/slot-b+1-0.conf").rename(esp / "loader/entries/slot-b+0-1.conf")
    bootentries.prefer(esp, "A")
    slots = {s.slot: s for s in bootentries.slots(esp)}
    assert slots["B"].state is SlotState.BAD and not slots["B"].preferred
    assert slots["A"].state is SlotState.GOOD and slots["A"].preferred
    assert slots["A"].version == "1.0" and slots["B"].version == ""


def test_rewriting_a_slot_replaces_its_entry(esp: Path) -> None:
    bootentries.write_entry(esp, "B", _entry("B", True), tries=1)
    (esp / "loader/entries/slot-b+1-0.conf").rename(esp / "loader/entries/slot-b+0-1.conf")
    bootentries.write_entry(esp, "B", _entry("B", True), tries=1)
    assert [e.filename for e in bootentries.entries(esp).values()] == [
        "slot-a.conf",
        "slot-b+1-0.conf",
    ]
    bootentries.remove_entry(esp, "B")
    assert bootentries.slots(esp)[1].state is SlotState.EMPTY


def test_other_slot() -> None:
    assert bootentries.other("A") == "B" and bootentries.other("B") == "A"
