"""`kiln-hub`: the fleet management server and its administration commands."""

from __future__ import annotations

import click

from kiln import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiln-hub")
def cli() -> None:
    """Kiln Hub: manage fleets of Kiln machines."""


def main() -> None:
    cli(prog_name="kiln-hub")
