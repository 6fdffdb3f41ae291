"""A cluster machine's Kiln upgrade (against a fake machine API): the image is checked, the
upgrade recorded *before* the image is sent, a refusal pauses the rollout; a machine sent an
image is followed until it runs the new version, or found to have fallen back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from kiln.hub import clock
from kiln.hub.controllers.clusters import machine_upgrade
from kiln.hub.controllers.clusters.machine_upgrade import KilnUpgrade
from kiln.hub.errors import TemplateError
from kiln.hub.resources import MachineStatusSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec
from kiln.hub.templates.load import load_template
from kiln.hub.templates.model import KilnVersion
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client, ClientError, NodeResource
from kiln.machinery.resources.runtime.boot_slots import BootSlot, BootSlotsSpec
from kiln.resources import Resource

RUNNING = MachineStatusSpec(connected=True, stage="running", version="0.1.0")


class FakeMachine:
    """Receives images: what happened, in order (a record, then the call)."""

    def __init__(self, refuse: ClientError | None = None) -> None:
        self.events: list[str] = []
        self.refuse = refuse
        self.slots: BootSlotsSpec | None = None  # what its BootSlots resource says

    async def get(self, type_name: str, resource_id: str, *, namespace: str) -> list[Any]:
        assert (type_name, resource_id, namespace) == ("BootSlots", "slots", "runtime")
        if self.slots is None:
            raise ClientError("BootSlots slots not found", code="NOT_FOUND")
        return [NodeResource("m1", Resource.new("slots", self.slots))]

    async def upgrade(self, requests: AsyncIterator[Any], within: float) -> list[Any]:
        sent = [request async for request in requests]
        self.events.append(f"upgrade with {len(sent)} requests")
        if self.refuse is not None:
            raise self.refuse
        return [machine_pb2.Upgrade(slot="B", version="0.2.0")]

    @contextlib.asynccontextmanager
    async def dial(self, uuid: str) -> AsyncIterator[Client]:
        yield cast(Client, self)


def image(tmp_path: Path, version: str) -> str:
    where = tmp_path / "image"
    where.mkdir()
    (where / "manifest.json").write_text(json.dumps({"version": version}))
    for name in ("manifest.sig", "vmlinuz", "initramfs", "rootfs.squashfs"):
        (where / name).write_bytes(b"x")
    return str(where)


async def send(fake: FakeMachine, kiln: KilnVersion) -> ClusterMachineStatusSpec:
    async def record(status: ClusterMachineStatusSpec) -> None:
        fake.events.append(f"recorded {status.upgrade_version} from {status.upgrade_from}")

    status = ClusterMachineStatusSpec(cluster="c1", config_hash="h")
    return await KilnUpgrade(fake.dial).send("m1", RUNNING, status, kiln, record)


async def test_the_upgrade_is_recorded_before_the_image_is_sent(tmp_path: Path) -> None:
    fake = FakeMachine()
    found = await send(fake, KilnVersion(version="v0.2.0", image=image(tmp_path, "0.2.0")))
    assert fake.events == ["recorded 0.2.0 from 0.1.0", "upgrade with 4 requests"]
    assert found.updating and not found.paused and found.upgraded_at is not None
    assert found.message == "Kiln 0.2.0 written to slot B; rebooting into it"


async def test_a_refused_image_pauses_the_rollout_with_the_reason(tmp_path: Path) -> None:
    refused = ClientError("only a node running from an installed disk", code="UNIMPLEMENTED")
    fake = FakeMachine(refuse=refused)
    found = await send(fake, KilnVersion(version="0.2.0", image=image(tmp_path, "0.2.0")))
    assert found.paused == "upgrade: only a node running from an installed disk"
    assert not found.updating and found.phase == "failed"


async def test_an_image_of_another_version_is_not_sent(tmp_path: Path) -> None:
    fake = FakeMachine()
    found = await send(fake, KilnVersion(version="0.3.0", image=image(tmp_path, "0.2.0")))
    assert fake.events == []
    assert found.paused.endswith("is Kiln 0.2.0, not 0.3.0 as the template says")
    missing = await send(fake, KilnVersion(version="0.3.0", image=str(tmp_path / "nowhere")))
    assert "no such image directory" in missing.paused and fake.events == []


def just_sent() -> ClusterMachineStatusSpec:
    """A machine on 0.1.0 that was just sent Kiln 0.2.0."""
    return ClusterMachineStatusSpec(
        cluster="c1",
        upgrade_version="0.2.0",
        upgrade_from="0.1.0",
        upgraded_at=clock.now(),
        updating=True,
    )


def test_a_machine_sent_an_image_is_followed_until_it_runs_it_or_fell_back() -> None:
    sent = just_sent()
    away = MachineStatusSpec(connected=False, stage="running", version="0.1.0")
    status, done = machine_upgrade.followed(away, sent)
    assert not done and status.message == "upgrading to Kiln 0.2.0: away (rebooting)"
    status, done = machine_upgrade.followed(RUNNING, sent)  # not back yet: not late either
    assert not done and not status.paused
    upgraded = RUNNING.model_copy(update={"version": "0.2.0"})
    status, done = machine_upgrade.followed(upgraded, sent)
    assert done and not status.upgrade_version and status.updating
    late = sent.model_copy(update={"upgraded_at": clock.now() - timedelta(minutes=6)})
    status, done = machine_upgrade.followed(RUNNING, late)
    assert not done and "fell back to its previous system" in status.paused
    assert status.phase == "failed" and not status.updating
    other = RUNNING.model_copy(update={"version": "0.1.5"})
    status, done = machine_upgrade.followed(other, late)
    assert status.paused == "runs Kiln 0.1.5 5 minutes after being sent Kiln 0.2.0"
    assert late.upgraded_at is not None
    stayed = RUNNING.model_copy(update={"connected_since": late.upgraded_at - timedelta(hours=1)})
    status, done = machine_upgrade.followed(stayed, late)  # never went away: never rebooted
    assert "connected all along: it never rebooted into it" in status.paused
    assert "fell back" not in status.paused


async def test_a_machine_whose_firmware_gave_the_new_slot_up_pauses_the_rollout_at_once() -> None:
    sent = just_sent()
    fake = FakeMachine()
    upgrade = KilnUpgrade(fake.dial)
    status, done = await upgrade.follow("m1", RUNNING, sent)  # no slots (yet): wait
    assert not done and not status.paused
    written = BootSlot(slot="B", state="trying", version="0.2.0")  # before its reboot
    fake.slots = BootSlotsSpec(active="A", slots=[BootSlot(slot="A", state="good"), written])
    status, done = await upgrade.follow("m1", RUNNING, sent)
    assert not done and not status.paused
    given_up = written.model_copy(
        update={"state": "bad", "failure": "did not become healthy within 300s"}
    )
    fake.slots = fake.slots.model_copy(update={"rolled_back": True, "slots": [given_up]})
    status, done = await upgrade.follow("m1", RUNNING, sent)
    assert not done and not status.updating and status.phase == "failed"
    assert status.paused == (
        "fell back to Kiln 0.1.0: slot B with Kiln 0.2.0 did not become healthy within 300s"
    )
    upgraded = RUNNING.model_copy(update={"version": "0.2.0"})
    status, done = await upgrade.follow("m1", upgraded, sent)  # the new one runs: done
    assert done and not status.paused


def test_a_pause_is_lifted_when_the_template_asks_another_version_or_image() -> None:
    paused = ClusterMachineStatusSpec(
        cluster="c1", upgrade_version="0.2.0", upgrade_image="/img", paused="refused"
    )
    assert not machine_upgrade.outdated_pause(paused, KilnVersion(version="v0.2.0", image="/img"))
    assert machine_upgrade.outdated_pause(paused, KilnVersion(version="0.2.0", image="/other"))
    assert machine_upgrade.outdated_pause(paused, None)
    assert not machine_upgrade.cleared(paused).paused


def test_a_template_names_its_image_by_url_or_absolute_path() -> None:
    text = (
        "kind: Cluster\nname: c\nkiln: {{version: 1.0.0, image: {}}}\n---\n"
        "kind: ControlPlane\nmachines: [m1]\n"
    )
    with pytest.raises(TemplateError, match=r"'image\.tar' is neither an http"):
        load_template(text.format("image.tar"), "t")
    for where in ("/srv/images/kiln-1.0.0", "https://example.invalid/kiln-1.0.0.tar.zst"):
        kiln = load_template(text.format(where), "t").cluster.kiln
        assert kiln is not None and kiln.image == where
