"""``kilnctl events``: what a node did (phases, services, configs), and with -f what it does."""

from __future__ import annotations

import click

from kiln.ctl import connect


@click.command("events")
@click.option("--tail", default=-1, show_default=True, help="Past events first (-1: all kept).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events (Ctrl-C ends).")
@connect.node_options
def events(tail: int, follow: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Print the node's machine events."""
    api = connect.client(endpoints, nodes)

    async def read() -> None:
        async with api:
            async for event in api.events(tail=tail, follow=follow):
                node = event.metadata.node or api.node
                click.echo(f"{node}\t{event.time}\t{event.type}\t{event.message}")

    connect.run(read())
