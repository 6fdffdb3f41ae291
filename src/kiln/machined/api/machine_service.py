"""The MachineService: configs, power, services, logs, events, versions and hardware.

Each method turns the request into a call on the node (:class:`~.control.NodeControl`) and
the answer into protobuf; errors are translated by the access interceptor, never here. Bootstrap
and the etcd methods are handled in :mod:`~kiln.machined.api.etcd_service`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from kiln.machined.api.control import NodeControl
from kiln.machined.api.etcd_service import EtcdHandlers
from kiln.machined.api.streams import until_closed
from kiln.machined.errors import InvalidRequestError
from kiln.machinery.api import common_pb2, machine_pb2, machine_pb2_grpc
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.drain import DrainOptions

if TYPE_CHECKING:
    from kiln.machined.events import MachineEvent
    from kiln.machined.services import ServiceStatus

Context = Any  # grpc.aio.ServicerContext; the interceptor has checked it already


class MachineService(machine_pb2_grpc.MachineServiceServicer):
    def __init__(self, node: NodeControl) -> None:
        self.node = node
        self.etcd = EtcdHandlers(node)

    def _metadata(self) -> common_pb2.Metadata:
        return common_pb2.Metadata(node=self.node.name)

    def _empty(self) -> common_pb2.EmptyResponse:
        return common_pb2.EmptyResponse(messages=[common_pb2.Empty(metadata=self._metadata())])

    async def ApplyConfiguration(
        self, request: machine_pb2.ApplyConfigurationRequest, context: Context
    ) -> machine_pb2.ApplyConfigurationResponse:
        try:
            mode = ApplyMode.from_proto(request.mode)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
        from kiln.machined.apply.plan import ApplyRequest  # with the config schema: not early

        applied = await self.node.apply_configuration(
            ApplyRequest(
                request.data,
                mode,
                request.dry_run,
                float(request.try_timeout_seconds),
                _drain(request.drain),
            )
        )
        message = machine_pb2.ApplyConfiguration(
            metadata=self._metadata(),
            mode=applied.decision.mode.to_proto(),
            mode_details=applied.decision.details,
            diff=applied.diff,
            warnings=applied.warnings,
        )
        return machine_pb2.ApplyConfigurationResponse(messages=[message])

    async def ConfirmConfiguration(
        self, request: machine_pb2.ConfirmConfigurationRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        await self.node.confirm_configuration()
        return self._empty()

    async def Bootstrap(
        self, request: machine_pb2.BootstrapRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        return await self.etcd.bootstrap(request)

    async def Reboot(
        self, request: machine_pb2.RebootRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        await self.node.reboot(_drain(request.drain))
        return self._empty()

    async def Shutdown(
        self, request: machine_pb2.ShutdownRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        await self.node.shutdown(_drain(request.drain))
        return self._empty()

    async def Reset(
        self, request: machine_pb2.ResetRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        await self.node.reset(graceful=request.graceful, drain=_drain(request.drain))
        return self._empty()

    async def Upgrade(
        self, request: AsyncIterator[machine_pb2.UpgradeRequest], context: Context
    ) -> machine_pb2.UpgradeResponse:
        first = await anext(aiter(request), None)
        if first is None or not first.manifest or not first.signature:
            raise InvalidRequestError(
                "upgrade: the first message must carry the manifest and its signature"
            )

        async def chunks() -> AsyncIterator[tuple[str, bytes]]:
            async for message in request:
                yield message.artifact, bytes(message.data)

        change = await self.node.upgrade(
            bytes(first.manifest),
            bytes(first.signature),
            chunks(),
            stay=first.stay,
            drain=_drain(first.drain),
        )
        message = machine_pb2.Upgrade(
            metadata=self._metadata(),
            slot=change.slot,
            version=change.version,
            seconds=change.seconds,
        )
        return machine_pb2.UpgradeResponse(messages=[message])

    async def Rollback(
        self, request: machine_pb2.RollbackRequest, context: Context
    ) -> machine_pb2.RollbackResponse:
        change = await self.node.rollback()
        message = machine_pb2.Rollback(
            metadata=self._metadata(), slot=change.slot, version=change.version
        )
        return machine_pb2.RollbackResponse(messages=[message])

    async def ServiceList(
        self, request: machine_pb2.ServiceListRequest, context: Context
    ) -> machine_pb2.ServiceListResponse:
        services = [_service(status) for status in self.node.services()]
        listing = machine_pb2.ServiceList(metadata=self._metadata(), services=services)
        return machine_pb2.ServiceListResponse(messages=[listing])

    async def ServiceStart(
        self, request: machine_pb2.ServiceRequest, context: Context
    ) -> machine_pb2.ServiceActionResponse:
        return await self._service_action(request.id, "start")

    async def ServiceStop(
        self, request: machine_pb2.ServiceRequest, context: Context
    ) -> machine_pb2.ServiceActionResponse:
        return await self._service_action(request.id, "stop")

    async def ServiceRestart(
        self, request: machine_pb2.ServiceRequest, context: Context
    ) -> machine_pb2.ServiceActionResponse:
        return await self._service_action(request.id, "restart")

    async def _service_action(self, name: str, action: str) -> machine_pb2.ServiceActionResponse:
        status = await self.node.service_action(name, action)
        answer = machine_pb2.ServiceAction(
            metadata=self._metadata(), response=f"service {name}: {action} ({status.state})"
        )
        return machine_pb2.ServiceActionResponse(messages=[answer])

    async def Logs(
        self, request: machine_pb2.LogsRequest, context: Context
    ) -> AsyncIterator[common_pb2.Data]:
        log = self.node.service_log(request.id)
        tail = request.tail_lines if request.tail_lines >= 0 else None
        metadata = self._metadata()
        if not request.follow:
            for line in log.tail(tail):
                yield common_pb2.Data(metadata=metadata, bytes=line.encode())
            return
        async for line in until_closed(self.node.closing, log.follow(tail)):
            yield common_pb2.Data(metadata=metadata, bytes=line.encode())

    async def Events(
        self, request: machine_pb2.EventsRequest, context: Context
    ) -> AsyncIterator[machine_pb2.Event]:
        metadata = self._metadata()
        if request.follow:
            events = until_closed(
                self.node.closing, self.node.events.subscribe(request.tail_events)
            )
        else:
            events = _iterate(self.node.events.recent(request.tail_events))
        async for event in events:
            yield machine_pb2.Event(
                metadata=metadata,
                id=str(event.id),
                type=event.type.value,
                message=event.message,
                time=event.time.isoformat(),
            )

    async def Version(
        self, request: machine_pb2.VersionRequest, context: Context
    ) -> machine_pb2.VersionResponse:
        found = self.node.versions()
        info = machine_pb2.VersionInfo(
            tag=found.tag, python=found.python, os=found.os, arch=found.arch
        )
        version = machine_pb2.Version(
            metadata=self._metadata(), version=info, maintenance=self.node.maintenance
        )
        return machine_pb2.VersionResponse(messages=[version])

    async def Hardware(
        self, request: machine_pb2.HardwareRequest, context: Context
    ) -> machine_pb2.HardwareResponse:
        machine = await self.node.hardware()
        found = machine.hardware
        disks = [
            machine_pb2.Disk(device=d.device, size=d.size, model=d.model, serial=d.serial)
            for d in found.disks
        ]
        hardware = machine_pb2.Hardware(
            metadata=self._metadata(),
            uuid=machine.uuid,
            cpus=found.cpus,
            memory=found.memory,
            disks=disks,
            interfaces=found.interfaces,
            platform=machine.platform,
        )
        return machine_pb2.HardwareResponse(messages=[hardware])

    async def EtcdMemberList(
        self, request: machine_pb2.EtcdMemberListRequest, context: Context
    ) -> machine_pb2.EtcdMemberListResponse:
        return await self.etcd.member_list()

    async def EtcdRemoveMember(
        self, request: machine_pb2.EtcdRemoveMemberRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        return await self.etcd.remove_member(request)

    async def EtcdLeaveCluster(
        self, request: machine_pb2.EtcdLeaveClusterRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        return await self.etcd.leave_cluster()

    async def EtcdForfeitLeadership(
        self, request: machine_pb2.EtcdForfeitLeadershipRequest, context: Context
    ) -> machine_pb2.EtcdForfeitLeadershipResponse:
        return await self.etcd.forfeit_leadership()

    async def EtcdStatus(
        self, request: machine_pb2.EtcdStatusRequest, context: Context
    ) -> machine_pb2.EtcdStatusResponse:
        return await self.etcd.status()

    async def EtcdSnapshot(
        self, request: machine_pb2.EtcdSnapshotRequest, context: Context
    ) -> AsyncIterator[common_pb2.Data]:
        async with contextlib.aclosing(self.etcd.snapshot()) as stream:
            async for data in stream:
                yield data

    async def EtcdDefragment(
        self, request: machine_pb2.EtcdDefragmentRequest, context: Context
    ) -> common_pb2.EmptyResponse:
        return await self.etcd.defragment()

    async def Kubeconfig(
        self, request: machine_pb2.KubeconfigRequest, context: Context
    ) -> machine_pb2.KubeconfigResponse:
        kubeconfig = await self.node.kubeconfig()
        answer = machine_pb2.Kubeconfig(metadata=self._metadata(), kubeconfig=kubeconfig)
        return machine_pb2.KubeconfigResponse(messages=[answer])


async def _iterate(events: list[MachineEvent]) -> AsyncIterator[MachineEvent]:
    for event in events:
        yield event


def _service(status: ServiceStatus) -> machine_pb2.ServiceStatus:
    return machine_pb2.ServiceStatus(
        id=status.name,
        state=status.state.value,
        health=status.health,
        message=status.message,
        pid=status.pid or 0,
        restarts=status.restarts,
        since=status.since.isoformat(),
    )


def _drain(options: machine_pb2.DrainOptions) -> DrainOptions:
    try:
        return DrainOptions.from_proto(options)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
