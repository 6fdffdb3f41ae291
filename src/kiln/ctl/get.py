"""``kilnctl get TYPE [ID]``: any resource of a node, as a table, YAML or JSON; ``-w`` watches."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml

from kiln.ctl import connect, render
from kiln.machinery.client import Client, NodeErrors, NodeResource
from kiln.machinery.resources import node_registry
from kiln.resources import EventType, Resource, ResourceDefinition, table_rows, to_dict

OUTPUTS = ("table", "yaml", "json")


@click.command("get")
@click.argument("type_name", metavar="TYPE")
@click.argument("resource_id", metavar="[ID]", required=False)
@click.option("--namespace", default="", help="Namespace [default: the type's].")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
@click.option("-w", "--watch", is_flag=True, help="Keep printing changes (Ctrl-C ends).")
@connect.node_options
def get(
    type_name: str,
    resource_id: str | None,
    namespace: str,
    output: str,
    watch: bool,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Show resources of a type (by name or alias, e.g. machinestatus, ms, services)."""
    described = node_registry().get(type_name)
    api = connect.client(endpoints, nodes)
    if watch:
        connect.run(_watch(api, described, resource_id, namespace, output))
        return

    async def ask() -> list[NodeResource]:
        async with api:
            return await api.get(described.type, resource_id, namespace=namespace)

    failed: NodeErrors | None = None
    try:
        found = connect.run(ask())
    except NodeErrors as err:  # print what the other nodes answered, then the failures
        found, failed = list(err.answered), err
    if output == "table":
        _table(described, found)
    else:
        for item in found:
            _document(output, item.node, item.resource)
    if failed is not None:
        raise failed


async def _watch(
    api: Client, described: ResourceDefinition, resource_id: str | None, namespace: str, output: str
) -> None:
    async with api:
        async for event in api.watch(described.type, resource_id, namespace=namespace):
            if event.type is EventType.ERRORED:
                click.echo(f"error: {event.node}: watch ended: {event.error}", err=True)
                return
            if event.resource is None:
                continue
            if output == "table":
                _, rows = table_rows(described, [event.resource])
                click.echo("\t".join([event.node, event.type.value, *rows[0]]))
            else:
                _document(output, event.node, event.resource, event.type.value)


def _table(described: ResourceDefinition, found: list[NodeResource]) -> None:
    headers, _ = table_rows(described, [])
    rows = []
    for item in found:
        _, cells = table_rows(described, [item.resource])
        rows.append([item.node, *cells[0]])
    render.table(["node", *headers], rows)


def _document(output: str, node: str, resource: Resource[Any], event: str = "") -> None:
    data: dict[str, Any] = {"node": node}
    if event:
        data["event"] = event
    data.update(to_dict(resource))
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("---")
        click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)
