"""``kilnctl gen schema``: the JSON Schema of machine config documents, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kiln.ctl.outputs import write_new_files
from kiln.machinery.config import json_schema


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema here instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def schema(output: Path | None, force: bool) -> None:
    """Print the JSON Schema (draft 2020-12) of a machine config document.

    Point your editor's YAML support at it, e.g. with a first line
    ``# yaml-language-server: $schema=machine-config.schema.json``.
    """
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    write_new_files({output: text}, force=force)
    click.echo(f"wrote {output}", err=True)
