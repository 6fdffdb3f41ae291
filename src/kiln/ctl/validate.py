"""``kilnctl validate``: check a machine config file offline for the mode a node runs in."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.machinery.config import Mode, load_config_file, validate_for_mode


@click.command("validate")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The machine config file to check.",
)
@click.option(
    "--mode",
    required=True,
    type=click.Choice([mode.value for mode in Mode]),
    help="Where the node runs.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(path: Path, mode: str, strict: bool) -> None:
    """Check a machine config: its schema, and what the mode needs (no machine is contacted)."""
    config = load_config_file(path)
    for warning in validate_for_mode(config, Mode(mode), strict=strict):
        click.echo(f"warning: {config.source}: {warning}", err=True)
    click.echo(f"{path} is valid for {mode} mode")
