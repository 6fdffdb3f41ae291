"""HostnameStatusController: the node's hostname from the config, else the system's."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kiln.machinery.resources import HostnameStatusSpec, MachineConfigSpec
from kiln.machinery.resources.network import hostname_status
from kiln.resources import Controller, Input, Output, ReconcileContext


class HostnameStatusController(Controller):
    name = "network.HostnameStatusController"

    def __init__(self, system_hostname: Callable[[], str]) -> None:
        self._system_hostname = system_hostname

    def inputs(self) -> Sequence[Input]:
        return [Input.of(MachineConfigSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(HostnameStatusSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        configured: str | None = None
        for config in await ctx.reader.list(MachineConfigSpec):
            configured = config.spec.config().machine_config.machine.network.hostname
        if configured:
            await ctx.modify(hostname_status.new(configured, "config"))
        else:
            await ctx.modify(hostname_status.new(self._system_hostname(), "system"))
