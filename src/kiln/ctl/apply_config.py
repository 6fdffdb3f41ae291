"""``kilnctl apply-config`` and ``kilnctl confirm-config``: give a node its machine config."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.ctl import connect
from kiln.ctl.drain import drain_options, showing_drain
from kiln.ctl.errors import CliError
from kiln.machinery.api import machine_pb2
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.config.types import parse_duration
from kiln.machinery.config.yamlparse import MAX_INPUT_BYTES
from kiln.machinery.drain import DrainOptions


def _seconds(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value if value[-1:].isalpha() else f"{value}s").total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("apply-config")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The machine config file.",
)
@click.option(
    "-m",
    "--mode",
    type=click.Choice([mode.value for mode in ApplyMode]),
    default=ApplyMode.AUTO.value,
    show_default=True,
    help="auto: live where possible, else reboot; staged: at the next reboot; "
    "try: revert after --timeout unless confirmed.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--timeout",
    default="1m",
    show_default=True,
    callback=_seconds,
    help="How long a config applied in try mode lasts without confirmation.",
)
@drain_options
@connect.insecure_option
@connect.node_options
def apply_config(
    path: Path,
    mode: str,
    dry_run: bool,
    timeout: float,
    drain: DrainOptions,
    insecure: bool,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Apply a machine config to a node (use --insecure for a node in maintenance mode).

    A config that needs a reboot has a node running Kubernetes drain itself first (see
    --drain)."""
    data = _read(path)
    api = connect.client(endpoints, nodes, insecure=insecure)

    async def send() -> list[machine_pb2.ApplyConfiguration]:
        return await api.apply_configuration(
            data, ApplyMode(mode), dry_run=dry_run, try_timeout=timeout, drain=drain
        )

    async def apply() -> list[machine_pb2.ApplyConfiguration]:
        async with api:
            if insecure or dry_run:  # maintenance mode runs no kubelet: nothing to drain
                return await send()
            return await showing_drain(api, send)

    for answer in connect.run(apply()):
        node = answer.metadata.node or api.node
        for warning in answer.warnings:
            click.echo(f"warning: {node}: {warning}", err=True)
        resolved = ApplyMode.from_proto(answer.mode)
        if dry_run:
            click.echo(f"{node}: dry run ({resolved}: {answer.mode_details})", err=True)
            click.echo(answer.diff or "no changes", nl=not answer.diff)
        else:
            click.echo(f"{node}: {answer.mode_details} ({resolved})")


@click.command("confirm-config")
@connect.node_options
def confirm_config(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Keep a config applied in try mode (otherwise it reverts when its timeout passes)."""
    api = connect.client(endpoints, nodes)

    async def confirm() -> None:
        async with api:
            await api.confirm_configuration()

    connect.run(confirm())
    click.echo(f"{api.node}: config confirmed")


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise CliError(f"{path}: too large for a machine config")
    return data
