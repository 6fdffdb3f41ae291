"""The drain options of the commands that take a node down (reboot, shutdown, reset, upgrade),
and the node's drain events shown while such a call waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from kiln.ctl.options import duration_seconds
from kiln.machinery.client import Client, ClientError
from kiln.machinery.drain import DrainOptions

FC = TypeVar("FC", bound=Callable[..., object])
T = TypeVar("T")
DRAIN_EVENT = "drain"
BACKLOG = 200  # events published between the last one seen and the subscription


def drain_options(function: FC) -> FC:
    """Add ``--drain/--no-drain`` and ``--drain-timeout``; the command gets ``drain``."""

    def combine(ctx: click.Context, _param: click.Parameter, value: bool) -> DrainOptions:
        timeout = float(ctx.params.pop("drain_timeout"))  # eager: read first
        try:
            return DrainOptions(skip=not value, timeout=timeout)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--drain-timeout") from None

    function = click.option(
        "--drain/--no-drain",
        "drain",
        default=True,
        show_default=True,
        callback=combine,
        help="Cordon the node and evict its pods (PodDisruptionBudgets respected) first; "
        "the node uncordons itself once back and Ready.",
    )(function)
    return click.option(
        "--drain-timeout",
        default="5m",
        show_default=True,
        is_eager=True,
        callback=duration_seconds,
        help="Give up (uncordon, do nothing) when the drain takes longer.",
    )(function)


async def showing_drain(client: Client, call: Callable[[], Awaitable[T]]) -> T:
    """``call``'s answer, printing the node's drain events (stderr) while it waits."""
    seen = 0
    with contextlib.suppress(ClientError):
        async for event in client.events(tail=1):
            seen = int(event.id or 0)
    printer = asyncio.create_task(_print_drain_events(client, seen), name="drain events")
    try:
        return await call()
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ClientError):
            await printer


async def _print_drain_events(client: Client, after: int) -> None:
    async for event in client.events(tail=BACKLOG, follow=True):
        if event.type == DRAIN_EVENT and int(event.id or 0) > after:
            node = event.metadata.node or client.node
            click.echo(f"{node}: {event.message}", err=True)
