"""`kiln-hub`: the fleet management server and its client commands.

Errors are reported here and only here: one ``error:`` line each, exit code 1.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import signal
import sys
from pathlib import Path

import click

from kiln import __version__
from kiln.commandline import run_main
from kiln.hub.cli.access import kilnconfig_command, kubeconfig_command
from kiln.hub.cli.credentials import apikey, audit, jointoken
from kiln.hub.cli.machines import get, label, logs, machine
from kiln.hub.cli.templates import template
from kiln.machinery.hubjoin import keepalive

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_LISTEN = "0.0.0.0:8443"
DEFAULT_MACHINE_LISTEN = "0.0.0.0:8444"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiln-hub")
@click.option("--hub", envvar="KILN_HUB", help="HOST:PORT of the hub's API.")
@click.option("--api-key", envvar="KILN_HUB_API_KEY", help="The API key to call with.")
@click.option(
    "--ca",
    envvar="KILN_HUB_CA",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The certificate the hub serves (DATA/pki/server.crt).",
)
@click.option(
    "--config",
    envvar="KILN_HUB_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A client config (hub, ca, apiKey), e.g. DATA/client.yaml.",
)
def cli(hub: str | None, api_key: str | None, ca: Path | None, config: Path | None) -> None:
    """Kiln Hub: manage fleets of Kiln machines."""


@cli.command()
@click.option(
    "--data",
    "data_dir",
    default="/var/lib/kiln-hub",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the hub keeps everything.",
)
@click.option("--database", help="Database URL (default: sqlite:///DATA/hub.db).")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, help="The API (HOST:PORT).")
@click.option(
    "--machine-listen",
    default=DEFAULT_MACHINE_LISTEN,
    show_default=True,
    help="Where machines keep their connection (HOST:PORT).",
)
@click.option("--url", help="The URL join tokens send machines to (default: https://LISTEN).")
@click.option(
    "--peer-listen",
    help="Where other replicas on the same database reach this one (HOST:PORT; default: "
    "the machine listen host, any free port).",
)
@click.option(
    "--peer-address",
    help="HOST:PORT other replicas reach this one's peer port at (default: the peer listen "
    "address).",
)
@click.option(
    "--machine-keepalive",
    type=click.FloatRange(min=keepalive.MIN_INTERVAL),
    default=keepalive.INTERVAL,
    show_default=True,
    help="Seconds the hub hears nothing from a machine before it pings it; one that does not "
    f"answer within that long (at most {keepalive.TIMEOUT:g} s) is marked disconnected.",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info"
)
def serve(
    data_dir: Path,
    database: str | None,
    listen: str,
    machine_listen: str,
    url: str | None,
    peer_listen: str | None,
    peer_address: str | None,
    machine_keepalive: float,
    log_level: str,
) -> None:
    """Run the hub."""
    from kiln.hub.server import GC_THRESHOLDS, HubOptions, HubServer, _dialable
    from kiln.hub.store import default_database

    data_dir = data_dir.absolute()
    options = HubOptions(
        data_dir,
        listen,
        machine_listen,
        database or default_database(data_dir),
        url or f"https://{_dialable(listen)}",
        peer_listen or f"{machine_listen.rpartition(':')[0]}:0",
        peer_address,
        machine_keepalive,
    )
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    # One connection per machine: as many open files as the system lets this process have.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = HubServer(options)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.request_stop)
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        await server.run(_announce)

    asyncio.run(run())


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # the admin key must reach a log or a pipe at once


for command in (
    apikey, jointoken, audit, get, label, machine, logs, template,
    kilnconfig_command, kubeconfig_command,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    run_main(cli, "kiln-hub")
