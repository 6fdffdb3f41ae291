"""NodeAddressController: the node's IP addresses, looked up now and every half minute."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kiln.machinery.resources import NodeAddressSpec
from kiln.machinery.resources.network import node_address
from kiln.resources import Controller, Input, Output, ReconcileContext

REFRESH = 30.0


class NodeAddressController(Controller):
    name = "network.NodeAddressController"

    def __init__(self, addresses: Callable[[], list[str]], refresh: float = REFRESH) -> None:
        self._addresses = addresses
        self._refresh = refresh

    def inputs(self) -> Sequence[Input]:
        return []

    def outputs(self) -> Sequence[Output]:
        return [Output.of(NodeAddressSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        await ctx.modify(node_address.new(self._addresses()))
        ctx.requeue_after(self._refresh)
