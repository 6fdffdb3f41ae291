"""The inventory controller, the store's URL and the client's duration flags."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from kiln.hub.cli import options
from kiln.hub.controllers.inventory.machine_status import MachineStatusController
from kiln.hub.errors import HubClientError, InvalidRequestError
from kiln.hub.resources import (
    MachineFacts,
    MachineLabelsSpec,
    MachineSpec,
    MachineStatusSpec,
)
from kiln.hub.store import open_state
from kiln.resources import Pointer, Resource, StorageError
from kiln.resources.testing import ControllerHarness

UUID = "00000000-0000-4000-8000-00000000000a"


async def test_status_labels_are_system_labels_from_facts_plus_user_labels() -> None:
    facts = MachineFacts(stage="maintenance", platform="container", cpus=4, memory=8 * 1024**3)
    machine = Resource.new(UUID, MachineSpec(secret_hash="h", connected=True, facts=facts))
    status = Pointer.of(MachineStatusSpec, UUID)
    async with ControllerHarness(MachineStatusController(batch=0)) as harness:
        await harness.state.create(machine, owner="hub.MachineLink")
        found = await harness.wait_for(status, lambda r: r.spec.connected)
        assert found.metadata.labels == {
            "kiln.dev/connected": "true",
            "kiln.dev/stage": "maintenance",
            "kiln.dev/platform": "container",
            "kiln.dev/cpus": "4",
            "kiln.dev/memory-gib": "8",
            "kiln.dev/disks": "0",
        }
        user = {"rack": "r1", "kiln.dev/stage": "spoofed"}
        await harness.state.create(Resource.new(UUID, MachineLabelsSpec(labels=user)))
        found = await harness.wait_for(status, lambda r: "rack" in r.metadata.labels)
        assert found.metadata.labels["kiln.dev/stage"] == "maintenance"  # system wins
        await harness.state.destroy(machine.pointer, owner="hub.MachineLink")
        await harness.wait_kind(status.kind, lambda found: UUID not in found)


async def test_database_urls_name_sqlite_or_postgresql() -> None:
    for url, reason in (
        ("sqlite://relative.db", "ABSOLUTE"),
        ("mysql://db", "unknown database"),
    ):
        with pytest.raises(InvalidRequestError, match=reason):
            await open_state(url)
    unreachable = re.escape("cannot connect to postgresql://hub@127.0.0.1:1/h")  # no password
    with pytest.raises(StorageError, match=unreachable):
        await open_state("postgresql://hub:secret@127.0.0.1:1/h")


def test_durations_and_times_of_the_client_flags() -> None:
    assert options.seconds("90m", "--expires") == 5400
    assert options.seconds("7d", "--expires") == 7 * 86400
    assert options.seconds(None, "--expires") == 0
    for bad in ("0s", "10", "1w", "-1h"):
        with pytest.raises(HubClientError, match="--expires"):
            options.seconds(bad, "--expires")
    since = options.since("2h")
    assert since is not None
    assert abs(datetime.now(UTC) - timedelta(hours=2) - since) < timedelta(seconds=5)
    assert options.since("2026-12-06T10:00") == datetime(2026, 12, 6, 10, tzinfo=UTC)
    with pytest.raises(HubClientError, match="--since"):
        options.since("yesterday")
