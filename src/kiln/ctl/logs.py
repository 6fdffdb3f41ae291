"""``kilnctl logs SERVICE``: a service's output (``machined`` is the node daemon's own log)."""

from __future__ import annotations

import click

from kiln.ctl import connect


@click.command("logs")
@click.argument("service")
@click.option("--tail", default=-1, show_default=True, help="Lines from the end (-1: all kept).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C ends).")
@connect.node_options
def logs(
    service: str, tail: int, follow: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]
) -> None:
    """Print the log of a service."""
    api = connect.client(endpoints, nodes)

    async def read() -> None:
        async with api:
            async for line in api.logs(service, tail=tail, follow=follow):
                click.echo(line)

    connect.run(read())
