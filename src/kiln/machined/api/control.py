"""What the API needs from the node it serves: the seam between the gRPC servicers and the
node daemon, which implements :class:`NodeControl` (tests may implement it with a fake)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # only types: the early API imports this module before the node loads
    from kiln.machined.api.etcd_control import EtcdControl
    from kiln.machined.apply.plan import ApplyPlan, ApplyRequest
    from kiln.machined.events import EventBus
    from kiln.machined.node.os_slots import SlotChange
    from kiln.machined.platform.host import Hardware, Versions
    from kiln.machined.services import ServiceLog, ServiceStatus
    from kiln.machinery.drain import DrainOptions
    from kiln.resources import Registry, State


@dataclass(frozen=True)
class MachineHardware:
    """What Hardware answers: the host's hardware, the machine's id and where it runs."""

    hardware: Hardware
    uuid: str
    platform: str


class NodeControl(Protocol):
    """The node as its API sees it during one boot."""

    @property
    def name(self) -> str:
        """How answers are labelled (``common.Metadata.node``)."""
        ...

    @property
    def maintenance(self) -> bool: ...

    @property
    def state(self) -> State: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def closing(self) -> asyncio.Event:
        """Set when the API is about to stop: long streams end."""
        ...

    async def apply_configuration(self, request: ApplyRequest) -> ApplyPlan: ...

    async def confirm_configuration(self) -> None: ...

    async def reboot(self, drain: DrainOptions) -> None: ...

    async def shutdown(self, drain: DrainOptions) -> None: ...

    async def reset(self, *, graceful: bool, drain: DrainOptions) -> None: ...

    async def upgrade(
        self,
        manifest: bytes,
        signature: bytes,
        chunks: AsyncIterator[tuple[str, bytes]],
        *,
        stay: bool,
        drain: DrainOptions,
    ) -> SlotChange:
        """Write the signed image streamed in ``chunks`` to the inactive slot; drain and reboot
        into it unless ``stay``."""
        ...

    async def rollback(self) -> SlotChange:
        """Boot the other slot (it must hold a good image) next; reboots."""
        ...

    def services(self) -> list[ServiceStatus]: ...

    async def service_action(self, name: str, action: str) -> ServiceStatus: ...

    def service_log(self, name: str) -> ServiceLog: ...

    def versions(self) -> Versions: ...

    async def hardware(self) -> MachineHardware: ...

    async def kubeconfig(self) -> bytes:
        """An admin kubeconfig for the node's cluster (control-plane nodes only)."""
        ...

    @property
    def etcd(self) -> EtcdControl | None:
        """The node's etcd member; None on a node that runs none (a worker)."""
        ...
