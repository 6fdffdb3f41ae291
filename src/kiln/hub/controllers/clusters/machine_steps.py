"""What the lifecycle controller asks of one cluster machine through the hub's tunnel, one
step per call: apply its config, bootstrap etcd, reset it. Each returns the machine's next
status; none raises for what the machine answers (a failure is a status with its reason)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiln.errors import KilnError
from kiln.hub import clock
from kiln.hub.resources import ClusterMachineSpec, ClusterSpec, MachineStatusSpec
from kiln.hub.resources.cluster_machine_status import ClusterMachineStatusSpec, MachinePhase
from kiln.hub.templates.configs import MachinePlace, machine_config
from kiln.machinery.client import ClientError, answers
from kiln.machinery.health.checks import Dialer
from kiln.machinery.secrets import SecretsBundle

#: How long a machine may take to leave maintenance mode with its config, or to come back to
#: it after a reset, before the step is done again.
GRACE = timedelta(seconds=90)
#: A machine reports its stage every few seconds: an update is not taken as done (freeing a
#: slot of its set) before the machine had the time to say it reboots.
SETTLE = timedelta(seconds=8)
#: A machine sent its config in maintenance mode leaves it within this (else it never will).
BOOTING = timedelta(seconds=20)
MAINTENANCE = "maintenance"
RUNNING = "running"


class UpdateSlots:
    """How many more machines of one set may take a changed config now (the set's
    ``updateStrategy.maxParallelism`` minus those still booting with one)."""

    def __init__(self, set_name: str, free: int) -> None:
        self.set_name = set_name
        self.free = free

    def take(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True


@dataclass(frozen=True)
class Outcome:
    status: ClusterMachineStatusSpec
    settled: bool = False  # nothing to do until an input changes
    released: bool = False  # the machine may leave the cluster


def config_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MachineSteps:
    def __init__(self, dial: Dialer) -> None:
        self._dial = dial

    async def converge(
        self,
        cm: ClusterMachineSpec,
        uuid: str,
        machine: MachineStatusSpec | None,
        status: ClusterMachineStatusSpec,
        cluster: ClusterSpec,
        secrets: SecretsBundle,
        slots: UpdateSlots,
    ) -> Outcome:
        """One step towards a machine running its config (and bootstrapped, if it is first);
        a changed config waits for one of its set's ``slots``."""
        if machine is None or not machine.connected:
            why = "has not joined the hub" if machine is None else "is not connected"
            return _waiting(status, f"the machine {why}")
        place = MachinePlace(uuid, cm.set_name, cm.machine_type, cm.address)
        try:
            data = machine_config(cluster.template, secrets, cm.endpoint, place).to_yaml().encode()
        except KilnError as err:
            return Outcome(_with(status, MachinePhase.FAILED, f"its config: {err}"), settled=True)
        wanted = config_hash(data)
        if machine.stage == MAINTENANCE:
            if status.config_hash == wanted and _recent(status.applied_at):
                return _waiting(status, "booting with its config", MachinePhase.CONFIGURING)
            return await self._apply(uuid, data, wanted, status, "sent its config")
        if status.config_hash != wanted:
            if status.config_hash and not slots.take():
                why = f"its new config waits: {slots.set_name} updates are at their maxParallelism"
                return _waiting(status, why, MachinePhase.CONFIGURING)
            updating = status.model_copy(update={"updating": True})
            return await self._apply(uuid, data, wanted, updating, "sent its new config")
        if machine.stage != RUNNING:
            return _waiting(status, f"stage {machine.stage}", MachinePhase.CONFIGURING)
        if status.updating and _recent(status.applied_at, SETTLE):
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
                await api.reset(graceful=graceful)
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
        self, uuid: str, data: bytes, wanted: str, status: ClusterMachineStatusSpec, done: str
    ) -> Outcome:
        try:
            async with self._dial(uuid) as api:
                replies = await api.apply_configuration(data)
        except ClientError as err:
            if answers.configured_already(err) or err.code in answers.UNREACHABLE:
                return _waiting(status, f"its API: {err.message}", MachinePhase.CONFIGURING)
            return _failed(status, f"apply: {err.message}")
        except KilnError as err:
            return _failed(status, f"apply: {err}")
        details = next((r.mode_details for r in replies if r.mode_details), "")
        changed = {
            "phase": MachinePhase.CONFIGURING,
            "message": f"{done}{': ' + details if details else ''}",
            "config_hash": wanted,
            "applied_at": clock.now(),
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
