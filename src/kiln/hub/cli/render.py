"""Output of the client commands: tables, YAML and JSON of resources from the hub."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from kiln.hub.resources import hub_registry
from kiln.resources import Resource, from_dict, table_rows, to_dict

FORMATS = ("table", "yaml", "json")


def decode(documents: list[str]) -> list[Resource[Any]]:
    registry = hub_registry()
    return [from_dict(registry, json.loads(text)) for text in documents]


def render(
    resources: list[Resource[Any]],
    output: str,
    *,
    header: bool = True,
    event: str = "",
) -> None:
    """Print resources; in a table, ``event`` (a watch's) comes first in an EVENT column."""
    if output == "json":
        click.echo(json.dumps([to_dict(r) for r in resources], indent=2))
        return
    if output == "yaml":
        click.echo(yaml.safe_dump_all([to_dict(r) for r in resources], sort_keys=False), nl=False)
        return
    if not resources:
        if header:
            click.echo("nothing found")
        return
    definition = hub_registry().get(resources[0].metadata.type)
    headers, rows = table_rows(definition, resources)
    keep = [i for i, name in enumerate(headers) if name not in ("NAMESPACE", "TYPE", "VERSION")]
    table = Table(box=None, show_header=header, pad_edge=False)
    if event:
        table.add_column("EVENT", min_width=9)
    for index in keep:
        table.add_column(headers[index])
    for row in rows:
        table.add_row(*([event] if event else []), *(row[index] for index in keep))
    Console(width=200, soft_wrap=True).print(table)
