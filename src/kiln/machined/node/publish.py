"""The resources the sequencer itself writes: identity, version, stage and config.

Each is written with the owner :data:`OWNER`, created when missing and updated otherwise.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from kiln.machined.platform.host import Versions
from kiln.machinery.config import MachineConfig
from kiln.machinery.resources import (
    BootSlotsSpec,
    MachineIdentitySpec,
    MountStatusSpec,
    Stage,
    VersionSpec,
)
from kiln.machinery.resources.config import machine_config
from kiln.machinery.resources.runtime import (
    boot_slots,
    machine_identity,
    machine_stage,
    mount_status,
    version,
)
from kiln.resources import NotFoundError, Resource, State

OWNER = "runtime.Sequencer"


class NodePublisher:
    def __init__(self, state: State) -> None:
        self._state = state

    async def identity(self) -> str:
        """The node's UUID, made and stored on first boot (kept until a reset)."""
        ptr = machine_identity.new().pointer
        try:
            found = await self._state.get(ptr)
        except NotFoundError:
            found = await self._state.create(machine_identity.new(), owner=OWNER)
        spec = found.spec
        assert isinstance(spec, MachineIdentitySpec)
        return spec.uuid

    async def version(self, found: Versions) -> None:
        spec = VersionSpec(tag=found.tag, python=found.python, os=found.os, arch=found.arch)
        await self._put(version.new(spec))

    async def stage(self, stage: Stage, phase: str, waiting: str = "") -> None:
        await self._put(machine_stage.new(stage, phase, waiting))

    async def boot_slots(self, spec: BootSlotsSpec) -> None:
        await self._put(boot_slots.new(spec))

    async def mounts(self, found: dict[str, MountStatusSpec]) -> None:
        for point, spec in found.items():
            await self._put(mount_status.new(point, spec))

    async def config(self, config: MachineConfig) -> None:
        await self._put(machine_config.new(config))

    async def _put(self, resource: Resource[Any]) -> None:
        try:
            current = await self._state.get(resource.pointer)
        except NotFoundError:
            await self._state.create(resource, owner=OWNER)
            return
        spec: BaseModel = resource.spec
        current.spec = spec
        await self._state.update(current, owner=OWNER)
