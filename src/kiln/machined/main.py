"""`kiln-machined`: the node daemon (PID 1 of Kiln OS, or a process in container mode).

Errors are reported here and only here: one ``error:`` line each, exit code 1. SIGTERM (and
SIGINT) shut the node down gracefully, exit code 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

import click

from kiln import __version__
from kiln.errors import KilnError
from kiln.machinery.config import Mode
from kiln.machinery.endpoints import API_PORT

EXIT_ERROR = 1
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiln-machined")
@click.option(
    "--mode",
    type=click.Choice([mode.value for mode in Mode]),
    default=Mode.CONTAINER.value,
    show_default=True,
    help="Where the node runs.",
)
@click.option(
    "--state",
    "state_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The node's state directory (config, resources, logs).",
)
@click.option(
    "--api-addr",
    default=f"0.0.0.0:{API_PORT}",
    show_default=True,
    help="Where the machine API listens (HOST:PORT).",
)
@click.option(
    "--trust-port",
    type=click.IntRange(1, 65535),
    default=50001,
    show_default=True,
    help="Where control-plane nodes sign workers' certificates, and workers ask for theirs.",
)
@click.option(
    "--extra-service",
    "extra_services",
    multiple=True,
    hidden=True,
    metavar="NAME=COMMAND",
    help="Supervise an extra program once the node runs (tests and development).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def cli(
    mode: str,
    state_dir: Path,
    api_addr: str,
    trust_port: int,
    extra_services: tuple[str, ...],
    log_level: str,
) -> None:
    """Run a Kiln node."""
    from kiln.machined.node import Node, NodeOptions, parse_api_addr, parse_extra_service

    host, port = parse_api_addr(api_addr)
    options = NodeOptions(
        Mode(mode),
        state_dir.absolute(),
        host,
        port,
        tuple(parse_extra_service(text) for text in extra_services),
        trust_port,
    )
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if options.mode is Mode.METAL:
        from kiln.machined.platform.metal import runner

        runner.prepare()
    node = Node(options)
    logging.getLogger().addHandler(node.log)
    if options.mode is Mode.METAL:
        asyncio.run(runner.run(node))
    else:
        asyncio.run(_run(node))


async def _run(node: object) -> None:
    from kiln.machined.node import Node

    assert isinstance(node, Node)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_shutdown)
    # Everything imported so far lives as long as the process: keep it out of the collector's
    # generations, so that collections do not walk (and touch) it again and again.
    gc.freeze()
    await node.run()


def main() -> None:
    try:
        cli.main(prog_name="kiln-machined", standalone_mode=False)
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
