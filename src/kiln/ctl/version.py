"""``kilnctl version``: the client's version and each node's.

With several nodes (``-e cp1 -n cp1,cp2,w1``) there is one section per node that answered, then
an error line for each node that did not (exit code 1).
"""

from __future__ import annotations

import click

from kiln import __version__
from kiln.ctl import connect
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import NodeErrors


@click.command("version")
@click.option("--client", "client_only", is_flag=True, help="Only the client's version.")
@connect.insecure_option
@connect.node_options
def version(
    client_only: bool, insecure: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]
) -> None:
    """Show the versions of kilnctl and of the node."""
    click.echo("Client:")
    click.echo(f"  Tag: {__version__}")
    if client_only:
        return
    api = connect.client(endpoints, nodes, insecure=insecure)

    async def ask() -> list[machine_pb2.Version]:
        async with api:
            return await api.version()

    failed: NodeErrors | None = None
    try:
        answers = connect.run(ask())
    except NodeErrors as err:
        answers, failed = err.answered, err
    for answer in answers:
        info = answer.version
        click.echo("Server:")
        click.echo(f"  Node: {answer.metadata.node or api.node}")
        click.echo(f"  Tag: {info.tag}")
        click.echo(f"  Python: {info.python}")
        click.echo(f"  OS: {info.os}/{info.arch}")
        click.echo(f"  Maintenance: {'yes' if answer.maintenance else 'no'}")
    if failed is not None:
        raise failed
