"""``kilnctl reboot``, ``kilnctl shutdown`` and ``kilnctl reset``."""

from __future__ import annotations

import click

from kiln.ctl import connect
from kiln.machinery.client import Client


@click.command("reboot")
@connect.node_options
def reboot(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Reboot a node (in container mode: restart its runtime in place)."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await client.reboot()

    connect.run(act(api))
    click.echo(f"{api.node}: rebooting")


@click.command("shutdown")
@connect.node_options
def shutdown(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Shut a node down."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await client.shutdown()

    connect.run(act(api))
    click.echo(f"{api.node}: shutting down")


@click.command("reset")
@click.option(
    "--graceful/--no-graceful",
    default=True,
    show_default=True,
    help="A control-plane node leaves etcd before it wipes (the last voting member cannot).",
)
@connect.node_options
def reset(graceful: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Wipe a node's state and return it to maintenance mode."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        async with client:
            await client.reset(graceful=graceful)

    connect.run(act(api))
    click.echo(f"{api.node}: resetting")
