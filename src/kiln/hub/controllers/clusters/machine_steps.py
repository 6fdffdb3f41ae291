"""What the lifecycle controller asks of one cluster machine through the hub's tunnel, one
step per call: apply its config, bootstrap etcd, upgrade its Kiln OS (:mod:`.machine_upgrade`)
or apply a changed config when the rollout (:mod:`.rollout`) gives it its turn, reset it.
Each returns the machine's next status; none raises for what the machine answers (a failure
is a status with its reason)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kiln.errors import KilnError
from kiln.hub import clock
from kiln.hub.controllers.clusters import machine_upgrade
from kiln.hub.controllers.clusters.machine_upgrade import HUB_DRAIN, KilnUpgrade, Record
from kiln.hub.controllers.clusters.rollout import LOCKED
from kiln.hub.resources import ClusterMachineSpec, ClusterSpec, MachineStatusSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec, MachinePhase
from kiln.hub.templates.configs import MachinePlace, machine_config
from kiln.hub.templates.model import KilnVersion
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client, ClientError, answers
from kiln.machinery.health.checks import Dialer
from kiln.machinery.osimage.artifact_cache import ArtifactCache
from kiln.machinery.resources import namespaces
from kiln.machinery.resources.config.machine_config import ID as CONFIG_ID
from kiln.machinery.resources.config.machine_config import TYPE as CONFIG_TYPE
from kiln.machinery.resources.config.machine_config import MachineConfigSpec
from kiln.machinery.secrets import SecretsBundle

#: How long a machine may take to leave maintenance mode with its config, or to come back to
#: it after a reset, before the step is done again.
GRACE = timedelta(seconds=90)
#: A machine reports its stage every few seconds: an update is not taken as done (freeing a
#: slot of its set) before the machine had the time to say it reboots.
SETTLE = timedelta(seconds=8)
#: A config applied live (no reboot): the machine runs it at once; a short pause for its
#: stage and services to show a failure before the next machine's turn.
LIVE_SETTLE = timedelta(seconds=2)
#: A machine sent its config in maintenance mode leaves it within this (else it never will).
BOOTING = timedelta(seconds=20)
MAINTENANCE = "maintenance"
RUNNING = "running"


@dataclass(frozen=True)
class Desired:
    """What a cluster machine should run: its config (as sent, as the node publishes it, its
    hash) and the template's Kiln version."""

    data: bytes
    documents: list[dict[str, Any]]
    hash: str
    kiln: KilnVersion | None

    @classmethod
    def of(
        cls, cm: ClusterMachineSpec, uuid: str, cluster: ClusterSpec, secrets: SecretsBundle
    ) -> Desired:
        """The machine's config from its cluster's template (KilnError if it cannot be made)."""
        place = MachinePlace(uuid, cm.set_name, cm.machine_type, cm.address)
        config = machine_config(cluster.template, secrets, cm.endpoint, place)
        data = config.to_yaml().encode()
        documents = MachineConfigSpec.of(config).documents
        return cls(data, documents, config_hash(data), cluster.template.cluster.kiln)

    def kiln_behind(self, machine: MachineStatusSpec) -> bool:
        """The template upgrades machines (it gives an image) and this one runs another."""
        kiln = self.kiln
        return bool(kiln and kiln.image and machine.version and machine.version != kiln.wanted)


@dataclass(frozen=True)
class Turn:
    """Whether the rollout lets this machine start taking a change now, else why not."""

    allowed: bool
    why: str = ""


@dataclass(frozen=True)
class Outcome:
    status: ClusterMachineStatusSpec
    settled: bool = False  # nothing to do until an input changes
    released: bool = False  # the machine may leave the cluster


def config_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MachineSteps:
    def __init__(self, dial: Dialer, images: ArtifactCache | None = None) -> None:
        self._dial = dial
        self._upgrade = KilnUpgrade(dial, images)

    async def converge(
        self,
        cm: ClusterMachineSpec,
        uuid: str,
        machine: MachineStatusSpec | None,
        status: ClusterMachineStatusSpec,
        desired: Desired,
        turn: Turn,
        record: Record,
    ) -> Outcome:
        """One step towards a machine running its config and Kiln version (and bootstrapped,
        if it is first); a change to a machine that runs waits for its ``turn``."""
        if machine is None or not machine.connected:
            why = "has not joined the hub" if machine is None else "is not connected"
            if machine_upgrade.pending(status):
                why = f"is away: upgrading to Kiln {status.upgrade_version}"
            return _waiting(status, f"the machine {why}", _phase_of(status))
        if machine.stage == MAINTENANCE:
            if status.config_hash == desired.hash and _recent(status.applied_at):
                return _waiting(status, "booting with its config", MachinePhase.CONFIGURING)
            return await self._apply(uuid, desired, status, "sent its config", running=False)
        if status.paused:
            paused = _with(status, MachinePhase.FAILED, f"rollout paused: {status.paused}")
            return Outcome(paused, settled=True)
        if machine_upgrade.pending(status):
            status, upgraded = await self._upgrade.follow(uuid, machine, status)
            if not upgraded:
                return Outcome(status)
        # A machine whose first config was sent but not recorded (the hub was killed) is not
        # in a rollout: it only gets that recorded (it runs it already) or sent.
        may_start = status.updating or turn.allowed or not status.config_hash
        if desired.kiln is not None and desired.kiln_behind(machine):
            if not may_start:
                return _held(status, f"its upgrade to Kiln {desired.kiln.wanted}", turn)
            sent = await self._upgrade.send(uuid, machine, status, desired.kiln, record)
            return Outcome(sent)
        if status.config_hash != desired.hash:
            if not may_start:
                return _held(status, "its new config", turn)
            updating = status.model_copy(update={"updating": True})
            return await self._apply(uuid, desired, updating, "sent its new config", running=True)
        if machine.stage != RUNNING:
            return _waiting(status, f"stage {machine.stage}", MachinePhase.CONFIGURING)
        if status.updating and _recent(status.applied_at, LIVE_SETTLE if status.live else SETTLE):
            return _waiting(status, "taking its new config", MachinePhase.CONFIGURING)
        if cm.bootstrap and not status.bootstrapped:
            return await self._bootstrap(uuid, status)
        done = status.model_copy(update={"updating": False})
        return Outcome(_with(done, MachinePhase.RUNNING, ""), settled=True)

    async def release(
        self,
        uuid: str,
        machine: MachineStatusSpec | None,
        status: ClusterMachineStatusSpec,
        *,
        graceful: bool,
    ) -> Outcome:
        """One step towards the machine being back in maintenance mode, free."""
        if machine is None:
            return Outcome(status, released=True)  # gone from the inventory
        if machine.connected and machine.stage == MAINTENANCE:
            if status.reset_at is None and _recent(status.applied_at, BOOTING):
                why = "it may be booting with the config it was just sent: reset it then"
                return _waiting(status, why, MachinePhase.RESETTING)
            done = status.model_copy(update={"phase": MachinePhase.WAITING, "message": "free"})
            return Outcome(done, released=True)
        if not machine.connected:
            return _waiting(status, "reset when it connects again", MachinePhase.RESETTING)
        if _recent(status.reset_at):
            return _waiting(status, f"resetting (stage {machine.stage})", MachinePhase.RESETTING)
        try:
            async with self._dial(uuid) as api:
                await api.reset(graceful=graceful, drain=HUB_DRAIN)
        except ClientError as err:
            if err.code not in answers.UNREACHABLE:  # a cut call: the reset may be under way
                return _failed(status, f"reset: {err.message}")
        except KilnError as err:
            return _failed(status, f"reset: {err}")
        how = "gracefully (leaving etcd)" if graceful else "wiping"
        changed = {
            "phase": MachinePhase.RESETTING,
            "message": f"reset {how}",
            "reset_at": clock.now(),
        }
        return Outcome(status.model_copy(update=changed))

    async def _apply(
        self,
        uuid: str,
        desired: Desired,
        status: ClusterMachineStatusSpec,
        done: str,
        *,
        running: bool,
    ) -> Outcome:
        """Send the config; to a ``running`` machine only if it does not run it already (a
        hub killed after sending it and before recording so does not send it twice)."""
        try:
            async with self._dial(uuid) as api:
                live = running and await _runs(api, desired)
                if live:
                    details = "it runs it already"
                else:
                    replies = await api.apply_configuration(desired.data, drain=HUB_DRAIN)
                    details = next((r.mode_details for r in replies if r.mode_details), "")
                    live = running and all(r.mode == machine_pb2.NO_REBOOT for r in replies)
        except ClientError as err:
            if answers.configured_already(err) or err.code in answers.UNREACHABLE:
                return _waiting(status, f"its API: {err.message}", MachinePhase.CONFIGURING)
            return _failed(status, f"apply: {err.message}")
        except KilnError as err:
            return _failed(status, f"apply: {err}")
        changed = {
            "phase": MachinePhase.CONFIGURING,
            "message": f"{done}{': ' + details if details else ''}",
            "config_hash": desired.hash,
            "applied_at": clock.now(),
            "live": live,
        }
        return Outcome(status.model_copy(update=changed))

    async def _bootstrap(self, uuid: str, status: ClusterMachineStatusSpec) -> Outcome:
        try:
            async with self._dial(uuid) as api:
                await api.bootstrap()
        except ClientError as err:
            if answers.bootstrapped_already(err):
                pass
            elif answers.not_yet(err):
                return _waiting(status, f"bootstrap: {err.message}", MachinePhase.CONFIGURING)
            else:
                return _failed(status, f"bootstrap: {err.message}")
        except KilnError as err:
            return _failed(status, f"bootstrap: {err}")
        changed = {
            "bootstrapped": True,
            "phase": MachinePhase.RUNNING,
            "message": "etcd bootstrapped",
        }
        return Outcome(status.model_copy(update=changed))


async def _runs(api: Client, desired: Desired) -> bool:
    """The machine runs exactly the desired config already."""
    found = await api.get(CONFIG_TYPE, CONFIG_ID, namespace=namespaces.CONFIG)
    spec = found[0].resource.spec if found else None
    return isinstance(spec, MachineConfigSpec) and spec.documents == desired.documents


def _phase_of(status: ClusterMachineStatusSpec) -> MachinePhase:
    return MachinePhase.CONFIGURING if machine_upgrade.pending(status) else MachinePhase.WAITING


def _held(status: ClusterMachineStatusSpec, what: str, turn: Turn) -> Outcome:
    """A change waiting for its turn; a locked machine keeps running what it runs."""
    if turn.why == LOCKED:
        return Outcome(_with(status, MachinePhase.RUNNING, LOCKED), settled=True)
    return _waiting(status, f"{what} waits: {turn.why}")


def _recent(when: datetime | None, within: timedelta = GRACE) -> bool:
    return when is not None and clock.now() - when < within


def _with(
    status: ClusterMachineStatusSpec, phase: MachinePhase, message: str
) -> ClusterMachineStatusSpec:
    return status.model_copy(update={"phase": phase, "message": message})


def _waiting(
    status: ClusterMachineStatusSpec, message: str, phase: MachinePhase = MachinePhase.WAITING
) -> Outcome:
    return Outcome(_with(status, phase, message))


def _failed(status: ClusterMachineStatusSpec, message: str) -> Outcome:
    return Outcome(_with(status, MachinePhase.FAILED, message))
