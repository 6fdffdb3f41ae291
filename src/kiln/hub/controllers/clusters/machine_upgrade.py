"""Upgrading a cluster machine's Kiln OS in place, as the template's ``kiln: {version, image}``
asks: the image is streamed to the machine through the hub's tunnel (the node checks its
signature, writes its other A/B slot and reboots into it), then the machine is followed until
it runs the new version.

What was sent is recorded in its ClusterMachineStatus *before* the image goes, so a hub
killed meanwhile never sends it twice: it waits for the machine instead. A machine that
refuses the image, or comes back on its old version (its firmware fell back), pauses the
rollout, as does an image whose manifest names another version. A fall-back is seen at once
in the machine's BootSlots (the slot written for the new version is bad, with why), else
:data:`UPGRADE_GRACE` after the image was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from kiln.errors import KilnError
from kiln.hub import clock
from kiln.hub.resources import MachineStatusSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec, MachinePhase
from kiln.hub.templates.model import KilnVersion
from kiln.machinery.client import ClientError, answers
from kiln.machinery.drain import DrainOptions
from kiln.machinery.health.checks import Dialer
from kiln.machinery.osimage import source
from kiln.machinery.osimage.artifact_cache import ArtifactCache
from kiln.machinery.osimage.stream import manifest_version, upgrade_requests
from kiln.machinery.resources.namespaces import RUNTIME
from kiln.machinery.resources.runtime import boot_slots

#: A machine sent an image runs the new version within this, or it fell back.
UPGRADE_GRACE = timedelta(minutes=5)
#: How long a machine may drain itself (cordon, evictions) before the hub's graceful reset or
#: OS upgrade of it takes it down: the call waits for the drain, within one step's bound; a
#: drain that cannot finish in time fails the step with the node's reason (pods, budgets).
HUB_DRAIN = DrainOptions(timeout=60.0)
#: How long streaming the image may take, plus the node's drain before it reboots into it:
#: within the lifecycle controller's bound on one step (STEP_TIMEOUT), so that a slow stream
#: ends as a cut call (then followed), never cancelled unseen.
SEND_TIMEOUT = 120.0 + HUB_DRAIN.answer_within

Record = Callable[[ClusterMachineStatusSpec], Awaitable[None]]


def pending(status: ClusterMachineStatusSpec) -> bool:
    """An image was sent (or was about to be) and the machine has not come back with it."""
    return bool(status.upgrade_version) and not status.paused


def cleared(status: ClusterMachineStatusSpec) -> ClusterMachineStatusSpec:
    """The status without an upgrade's record (and without the pause it caused)."""
    changes = {
        "upgrade_version": "",
        "upgrade_image": "",
        "upgrade_from": "",
        "upgraded_at": None,
        "paused": "",
    }
    return status.model_copy(update=changes)


def outdated_pause(status: ClusterMachineStatusSpec, kiln: KilnVersion | None) -> bool:
    """The rollout paused here for a Kiln version or image the template no longer asks."""
    if not status.paused:
        return False
    asked = (kiln.wanted, kiln.image or "") if kiln else ("", "")
    return (status.upgrade_version, status.upgrade_image) != asked


def followed(
    machine: MachineStatusSpec, status: ClusterMachineStatusSpec
) -> tuple[ClusterMachineStatusSpec, bool]:
    """Where a machine sent an image is: (its status, True once it runs the new version)."""
    target = status.upgrade_version
    if machine.connected and machine.stage == "running" and machine.version == target:
        done = cleared(status).model_copy(update={"message": f"upgraded to Kiln {target}"})
        return done, True
    sent = status.upgraded_at
    late = sent is None or clock.now() - sent > UPGRADE_GRACE
    if machine.connected and machine.stage == "running" and late:
        minutes = UPGRADE_GRACE.seconds // 60
        since = machine.connected_since
        if sent is not None and since is not None and since < sent:
            why = (
                f"still on Kiln {machine.version} {minutes} minutes after being sent Kiln "
                f"{target}, connected all along: it never rebooted into it (the image did "
                "not reach it whole, or the machine did not switch; see its logs)"
            )
        elif machine.version == status.upgrade_from:
            why = (
                f"still on Kiln {machine.version} {minutes} minutes after being sent Kiln "
                f"{target}: it fell back to its previous system"
            )
        else:
            why = f"runs Kiln {machine.version} {minutes} minutes after being sent Kiln {target}"
        return _paused(status.model_copy(update={"updating": False}), why), False
    where = f"stage {machine.stage}" if machine.connected else "away (rebooting)"
    message = f"upgrading to Kiln {target}: {where}"
    return status.model_copy(update={"phase": MachinePhase.CONFIGURING, "message": message}), False


class KilnUpgrade:
    def __init__(self, dial: Dialer, images: ArtifactCache | None = None) -> None:
        self._dial = dial
        self._images = images  # an image at a URL is downloaded once, not once per machine

    async def follow(
        self, uuid: str, machine: MachineStatusSpec, status: ClusterMachineStatusSpec
    ) -> tuple[ClusterMachineStatusSpec, bool]:
        """:func:`followed`, and a machine back on its old version is asked whether its
        firmware gave the new slot up (then the rollout pauses now, with the slot's reason)."""
        found, upgraded = followed(machine, status)
        back_on_old = machine.connected and machine.stage == "running"
        if upgraded or found.paused or not back_on_old or machine.version != status.upgrade_from:
            return found, upgraded
        failure = await self._given_up(uuid, status.upgrade_version)
        if not failure:
            return found, False
        why = f"fell back to Kiln {machine.version}: {failure}"
        return _paused(found.model_copy(update={"updating": False}), why), False

    async def _given_up(self, uuid: str, version: str) -> str:
        """Why the machine's slot holding ``version`` is bad ("" if none is, or it cannot be
        asked now: the grace period still catches a fall-back)."""
        try:
            async with self._dial(uuid) as api:
                found = await api.get(boot_slots.TYPE, boot_slots.ID, namespace=RUNTIME)
        except (ClientError, KilnError):
            return ""
        for item in found:
            spec = item.resource.spec
            if not isinstance(spec, boot_slots.BootSlotsSpec):
                continue
            for slot in spec.slots:
                if slot.state == "bad" and slot.version.removeprefix("v") == version:
                    why = slot.failure or "failed to boot"
                    return f"slot {slot.slot} with Kiln {version} {why}"
        return ""

    async def send(
        self,
        uuid: str,
        machine: MachineStatusSpec,
        status: ClusterMachineStatusSpec,
        kiln: KilnVersion,
        record: Record,
    ) -> ClusterMachineStatusSpec:
        """Check the image, record the upgrade, stream the image: the machine's next status
        (``paused`` set when the rollout must stop here)."""
        where = kiln.image or ""
        asked = {"upgrade_version": kiln.wanted, "upgrade_image": where}
        stack = contextlib.ExitStack()
        try:
            image = await asyncio.to_thread(
                stack.enter_context, source.open_image(where, self._images)
            )
            found = manifest_version(image, where).removeprefix("v")
            if found != kiln.wanted:
                why = f"image {where} is Kiln {found}, not {kiln.wanted} as the template says"
                return _paused(status.model_copy(update=asked), why)
            sending = status.model_copy(
                update={
                    **asked,
                    "upgrade_from": machine.version,
                    "upgraded_at": clock.now(),
                    "updating": True,
                    "phase": MachinePhase.CONFIGURING,
                    "message": f"sending Kiln {kiln.wanted} (from {machine.version})",
                }
            )
            await record(sending)  # before the image goes: never sent twice
            return await self._stream(uuid, image, sending)
        except KilnError as err:  # the image cannot be read
            return _paused(status.model_copy(update=asked), str(err))
        finally:
            await asyncio.to_thread(stack.close)

    async def _stream(
        self, uuid: str, image: source.ImageFiles, sending: ClusterMachineStatusSpec
    ) -> ClusterMachineStatusSpec:
        try:
            async with self._dial(uuid) as api:
                replies = await api.upgrade(upgrade_requests(image, drain=HUB_DRAIN), SEND_TIMEOUT)
        except ClientError as err:
            if err.code in answers.UNREACHABLE:  # cut: the image may have gone; wait and see
                message = f"upgrade call cut ({err.message}): waiting for it on the new version"
                return sending.model_copy(update={"message": message})
            refused = sending.model_copy(update={"updating": False})
            return _paused(refused, f"upgrade: {err.message}")
        except KilnError as err:  # no call was made (no tunnel, no credentials): not sent
            return cleared(sending).model_copy(update={"message": f"upgrade not sent: {err}"})
        slot = next((r.slot for r in replies if r.slot), "?")
        message = f"Kiln {sending.upgrade_version} written to slot {slot}; rebooting into it"
        return sending.model_copy(update={"message": message})


def _paused(status: ClusterMachineStatusSpec, why: str) -> ClusterMachineStatusSpec:
    return status.model_copy(
        update={"paused": why, "phase": MachinePhase.FAILED, "message": f"rollout paused: {why}"}
    )
