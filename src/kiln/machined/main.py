"""`kiln-machined`: the node daemon (PID 1 of Kiln OS, or a process in container mode)."""

from __future__ import annotations

import click

from kiln import __version__


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiln-machined")
def cli() -> None:
    """Run a Kiln node."""


def main() -> None:
    cli(prog_name="kiln-machined")
