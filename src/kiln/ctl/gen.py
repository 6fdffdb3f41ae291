"""``kilnctl gen``: generate secrets and machine configs locally (no machine is contacted)."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.ctl.gen_schema import schema
from kiln.ctl.outputs import write_new_files
from kiln.machinery.secrets import SecretsBundle

_FORCE = click.option("--force", is_flag=True, help="Overwrite files that already exist.")


@click.group()
def gen() -> None:
    """Generate secrets, machine configs and client configs."""


gen.add_command(schema)


@gen.command("secrets")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("secrets.yaml"),
    show_default=True,
    help="Where to write the secrets bundle.",
)
@_FORCE
def secrets_command(output: Path, force: bool) -> None:
    """Generate a cluster's CAs, keys and tokens into a secrets bundle."""
    bundle = SecretsBundle.generate()
    write_new_files({output: bundle.to_yaml()}, force=force)
    click.echo(f"wrote {output}", err=True)
