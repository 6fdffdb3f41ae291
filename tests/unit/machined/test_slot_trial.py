"""A slot's trial boot: its health deadline from the kernel, what the slots report when one
is given up on, and the backstop that reboots if the node cannot."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kiln.machined.platform.metal import backstop, slots
from kiln.machined.platform.metal.slots import BootDisk
from kiln.machinery.osimage import bootentries, trial


@pytest.mark.parametrize(
    ("arguments", "seconds"),
    [
        ({"kiln.health-timeout": "45"}, 45.0),
        ({}, trial.DEFAULT_HEALTH_TIMEOUT),  # a trial boot always has a deadline
        ({"kiln.health-timeout": "x"}, trial.DEFAULT_HEALTH_TIMEOUT),
        ({"kiln.health-timeout": "1"}, trial.DEFAULT_HEALTH_TIMEOUT),
    ],
)
def test_the_trial_boot_reads_its_deadline_from_the_kernel(
    arguments: dict[str, str], seconds: float
) -> None:
    assert trial.health_timeout(arguments) == seconds


def test_only_the_test_switch_breaks_health() -> None:
    assert trial.health_broken(["ro", "kiln.break-health"])
    assert not trial.health_broken(["ro", "kiln.break-health=0x"])


def _esp(tmp: Path) -> Path:
    for slot, tries in (("A", None), ("B", 0)):
        text = bootentries.entry_text(slot, "1", "ro", f"PARTUUID={slot}", slot == "B")
        bootentries.write_entry(tmp, slot, text, tries=tries)
        bootentries.write_release(tmp, slot, "kiln-os", f"v-{slot}")
    return tmp


def test_a_slot_on_trial_is_trying_in_its_own_boot(tmp_path: Path) -> None:
    esp = _esp(tmp_path)  # B booted on its last try
    spec = slots.spec(BootDisk("vda", {}, "B"), bootentries.slots(esp), False)
    assert [(s.slot, s.state, s.failure) for s in spec.slots] == [
        ("A", "good", ""),
        ("B", "trying", ""),
    ]
    assert slots.on_trial(spec)


def test_the_old_slot_reports_why_the_new_one_was_given_up_on(tmp_path: Path) -> None:
    esp = _esp(tmp_path)
    booted_a = BootDisk("vda", {}, "A")
    spec = slots.spec(booted_a, bootentries.slots(esp), True)
    assert spec.slots[1].state == "bad" and spec.slots[1].failure == "failed to boot"
    assert not slots.on_trial(spec)
    bootentries.write_failure(esp, "B", "did not become healthy within 30s")
    spec = slots.spec(booted_a, bootentries.slots(esp), True)
    assert spec.slots[1].failure == "did not become healthy within 30s"
    bootentries.clear_failure(esp, "B")  # the slot is written again
    assert bootentries.slots(esp)[1].failure == ""


def _armed(
    monkeypatch: pytest.MonkeyPatch, grace: float, deadline: float
) -> tuple[backstop.Backstop, threading.Event]:
    """A backstop with ``grace`` armed for ``deadline`` (uptime), and what its reboot sets."""
    monkeypatch.setattr(backstop, "GRACE", grace)
    rebooted = threading.Event()
    watcher = backstop.Backstop(rebooted.set)
    watcher.arm(deadline)
    return watcher, rebooted


def test_the_backstop_reboots_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    _, rebooted = _armed(monkeypatch, 0.2, backstop.uptime())
    assert rebooted.wait(5)


def test_a_disarmed_backstop_does_not_reboot(monkeypatch: pytest.MonkeyPatch) -> None:
    watcher, rebooted = _armed(monkeypatch, 0.2, backstop.uptime())
    watcher.disarm()
    time.sleep(0.5)
    assert not rebooted.is_set()


def test_a_node_started_past_its_deadline_gets_the_grace_for_its_orderly_reboot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the deadline passed long before the daemon started
    _, rebooted = _armed(monkeypatch, 0.5, backstop.uptime() - 3600)
    assert not rebooted.wait(0.3)
    assert rebooted.wait(5)
