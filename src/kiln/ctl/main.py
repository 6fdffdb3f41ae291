"""`kilnctl`: the command-line client. Errors are translated to exit codes here and only here."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from kiln import __version__
from kiln.ctl.errors import CliError
from kiln.ctl.options import GlobalOptions, split_list
from kiln.errors import KilnError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kilnctl")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--kilnconfig",
    "kilnconfig_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Client config file [default: $KILNCONFIG, then ~/.kiln/config].",
)
@click.option("--context", "context_name", help="Context to use instead of the current one.")
@click.option(
    "-e",
    "--endpoints",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Endpoint to connect to, instead of the context's (repeat or comma-separate).",
)
@click.option(
    "-n",
    "--nodes",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Nodes the request is for, instead of the context's (repeat or comma-separate).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    debug: bool,
    kilnconfig_path: Path | None,
    context_name: str | None,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Manage Kiln machines and clusters through their API."""
    ctx.obj = GlobalOptions(
        kilnconfig=kilnconfig_path,
        context=context_name,
        endpoints=split_list(endpoints),
        nodes=split_list(nodes),
    )


def _register_commands() -> None:
    from kiln.ctl import commands

    for command in commands.all_commands():
        cli.add_command(command)


def _error(line: str) -> None:
    click.echo(f"error: {line}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run kilnctl; every failure ends as ``error: ...`` lines and a non-zero exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # gRPC's C core logs failed handshakes (a node still in maintenance mode, a node going
    # down) to stderr on its own; kilnctl reports those failures itself, once.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    sys.exit(run(args))


def run(args: list[str]) -> int:
    """Run kilnctl with ``args`` and return its exit code (the testable core of :func:`main`)."""
    debug = "--debug" in args
    _register_commands()
    try:
        cli.main(args=args, prog_name="kilnctl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.UsageError as exc:
        _error(_usage_message(exc))
        return EXIT_USAGE
    except click.ClickException as exc:
        _error(exc.format_message())
        return EXIT_ERROR
    except KilnError as exc:
        if debug:
            traceback.print_exc()
        for line in exc.lines():
            _error(line)
        return EXIT_ERROR
    except OSError as exc:
        if debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return EXIT_ERROR
    return 0


def _usage_message(exc: click.UsageError) -> str:
    message = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


__all__ = ["CliError", "cli", "main", "run"]
