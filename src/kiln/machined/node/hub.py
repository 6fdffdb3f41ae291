"""The node's link to a Kiln Hub, across boots.

The hub to join comes from the running config's HubJoinConfig document, else from
``--hub-join FILE``; when a boot brings another one (or none), the link to the old hub ends
and one to the new hub starts. The link reports the node's facts: UUID, hostname, addresses
(its own first: the one its API and etcd use, which a cluster's endpoint may name),
versions, stage, hardware and the certificate its API serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kiln.machined.hublink import HubLink
from kiln.machined.node import etcd_setup
from kiln.machined.node.boot import Boot
from kiln.machined.node.env import NodeEnv
from kiln.machined.platform import host
from kiln.machined.statefiles import HUB_DIR, MAINTENANCE_DIR
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.config import HubJoinConfigDocument, MachineConfig
from kiln.machinery.config.types import parse_duration
from kiln.machinery.resources import BootSlotsSpec, MachineStageSpec
from kiln.machinery.resources.runtime import boot_slots, machine_stage
from kiln.resources import NotFoundError, Pointer, cast_spec

logger = logging.getLogger(__name__)

WAIT = 0.2


class NodeHub:
    def __init__(
        self,
        env: NodeEnv,
        current_boot: Callable[[], Boot | None],
        from_file: HubJoinConfigDocument | None,
    ) -> None:
        self._env = env
        self._boot = current_boot
        self._from_file = from_file
        self._joined: HubJoinConfigDocument | None = None
        self._task: asyncio.Task[None] | None = None

    async def follow(self, config: MachineConfig | None) -> None:
        """Link to the hub this boot names (the config's, else the file's)."""
        wanted = (config.hub_join if config is not None else None) or self._from_file
        if wanted == self._joined and self._task is not None:
            return
        await self.close()
        self._joined = wanted
        if wanted is None:
            return
        options = self._env.options
        api_host = options.api_host if options.api_host_is_specific else "127.0.0.1"
        link = HubLink(
            wanted.url,
            wanted.join_token,
            options.state_dir / HUB_DIR,
            self._facts,
            api_address=(api_host, options.api_port),
            max_backoff=parse_duration(wanted.reconnect_max_backoff).total_seconds(),
        )
        self._task = asyncio.create_task(link.run(), name="hub link")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _facts(self) -> tuple[str, pb.Facts]:
        boot = self._boot()
        while boot is None or not boot.uuid:
            await asyncio.sleep(WAIT)
            boot = self._boot()
        hardware = await boot.hardware()
        versions = host.versions()
        stage = ""
        with contextlib.suppress(NotFoundError):
            found = await boot.state.get(machine_stage.new(machine_stage.Stage.BOOTING).pointer)
            stage = cast_spec(found, MachineStageSpec).spec.stage.value
        certificate = b""
        if boot.maintenance:
            path = self._env.options.state_dir / MAINTENANCE_DIR / "tls.crt"
            certificate = path.read_bytes()
        addresses = self._env.host.addresses()
        if self._env.options.api_host_is_specific:  # what its API and etcd use comes first
            own = etcd_setup.node_address(self._env.options, addresses)
            addresses = list(dict.fromkeys([own, *addresses]))
        facts = pb.Facts(
            hostname=boot.name,
            addresses=addresses,
            version=await _os_version(boot, versions.tag),
            arch=versions.arch,
            os=versions.os,
            stage=stage,
            maintenance=boot.maintenance,
            cpus=hardware.hardware.cpus,
            memory=hardware.hardware.memory,
            disks=[
                pb.Disk(device=d.device, size=d.size, model=d.model)
                for d in hardware.hardware.disks
            ],
            interfaces=hardware.hardware.interfaces,
            platform=hardware.platform,
            api_certificate=certificate,
        )
        return boot.uuid, facts


async def _os_version(boot: Boot, tag: str) -> str:
    """The version of the Kiln OS image the node runs: its booted slot's (which an image's
    label sets, ``0.1.0+label``), else Kiln's own."""
    with contextlib.suppress(NotFoundError):
        found = await boot.state.get(Pointer.of(BootSlotsSpec, boot_slots.ID))
        spec = cast_spec(found, BootSlotsSpec).spec
        for slot in spec.slots:
            if slot.slot == spec.active and slot.version:
                return slot.version
    return tag
