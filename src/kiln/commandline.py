"""How Kiln's daemons and commands end: errors as ``error:`` lines, exit code 1 (2 for usage
mistakes, as click decides)."""

from __future__ import annotations

import sys

import click

from kiln.errors import KilnError

EXIT_ERROR = 1


def run_main(command: click.Command, prog_name: str, args: list[str] | None = None) -> None:
    """Run ``command`` (with ``args``, else the process's); report every error once, on
    stderr, and exit with its code."""
    try:
        command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except KilnError as exc:
        for line in exc.lines():
            click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(EXIT_ERROR)
