"""``kilnctl reboot``, ``kilnctl shutdown`` and ``kilnctl reset``."""

from __future__ import annotations

import click

from kiln.ctl import connect
from kiln.ctl.drain import drain_options, showing_drain
from kiln.machinery.client import Client
from kiln.machinery.drain import DrainOptions


@click.command("reboot")
@drain_options
@connect.node_options
def reboot(drain: DrainOptions, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Reboot a node (in container mode: restart its runtime in place)."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await showing_drain(client, lambda: client.reboot(drain))

    connect.run(act(api))
    click.echo(f"{api.node}: rebooting")


@click.command("shutdown")
@drain_options
@connect.node_options
def shutdown(drain: DrainOptions, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Shut a node down."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await showing_drain(client, lambda: client.shutdown(drain))

    connect.run(act(api))
    click.echo(f"{api.node}: shutting down")


@click.command("reset")
@click.option(
    "--graceful/--no-graceful",
    default=True,
    show_default=True,
    help="A control-plane node leaves etcd before it wipes (the last voting member cannot).",
)
@drain_options
@connect.node_options
def reset(
    graceful: bool, drain: DrainOptions, endpoints: tuple[str, ...], nodes: tuple[str, ...]
) -> None:
    """Wipe a node's state and return it to maintenance mode (a graceful reset drains)."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await showing_drain(client, lambda: client.reset(graceful=graceful, drain=drain))

    connect.run(act(api))
    click.echo(f"{api.node}: resetting")
