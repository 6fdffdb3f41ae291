"""``kilnctl services`` and ``kilnctl service NAME [start|stop|restart]``."""

from __future__ import annotations

import click

from kiln.ctl import connect, render
from kiln.ctl.errors import CliError
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client

ACTIONS = ("start", "stop", "restart")


@click.command("services")
@connect.node_options
def services(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """List the services of a node and their state."""
    api = connect.client(endpoints, nodes)
    _print(api, connect.run(_list(api)))


@click.command("service")
@click.argument("name")
@click.argument("action", required=False, type=click.Choice(ACTIONS))
@connect.node_options
def service(
    name: str, action: str | None, endpoints: tuple[str, ...], nodes: tuple[str, ...]
) -> None:
    """Show one service, or start, stop or restart it."""
    api = connect.client(endpoints, nodes)
    if action is None:
        listings = connect.run(_list(api))
        for listing in listings:
            kept = [s for s in listing.services if s.id == name]
            del listing.services[:]
            listing.services.extend(kept)
        if not any(listing.services for listing in listings):
            raise CliError(f"{api.node}: no service named {name!r}")
        _print(api, listings)
        return

    async def act() -> list[machine_pb2.ServiceAction]:
        async with api:
            return await api.service_action(action, name)

    for answer in connect.run(act()):
        click.echo(f"{answer.metadata.node or api.node}: {answer.response}")


async def _list(api: Client) -> list[machine_pb2.ServiceList]:
    async with api:
        return await api.service_list()


def _print(api: Client, listings: list[machine_pb2.ServiceList]) -> None:
    render.table(
        ["node", "service", "state", "health", "pid", "restarts", "since", "message"],
        [
            [
                listing.metadata.node or api.node,
                s.id,
                s.state,
                s.health or "-",
                str(s.pid) if s.pid else "-",
                str(s.restarts),
                s.since,
                s.message,
            ]
            for listing in listings
            for s in listing.services
        ],
    )
