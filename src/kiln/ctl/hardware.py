"""``kilnctl hardware``: what a node runs on (served in maintenance mode too)."""

from __future__ import annotations

import click

from kiln.ctl import connect, render
from kiln.machinery.api import machine_pb2

GIB = 1024**3


@click.command("hardware")
@connect.insecure_option
@connect.node_options
def hardware(insecure: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Show a node's CPUs, memory, disks and network interfaces."""
    api = connect.client(endpoints, nodes, insecure=insecure)

    async def ask() -> list[machine_pb2.Hardware]:
        async with api:
            return await api.hardware()

    answers = connect.run(ask())
    render.table(
        ["node", "uuid", "platform", "cpus", "memory", "interfaces"],
        [
            [
                found.metadata.node or api.node,
                found.uuid,
                found.platform,
                str(found.cpus),
                f"{found.memory / GIB:.1f} GiB",
                ",".join(found.interfaces),
            ]
            for found in answers
        ],
    )
    disks = [
        [found.metadata.node or api.node, d.device, f"{d.size / GIB:.1f} GiB", d.model, d.serial]
        for found in answers
        for d in found.disks
    ]
    if disks:
        render.table(["node", "disk", "size", "model", "serial"], disks)
