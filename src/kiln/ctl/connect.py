"""How a command reaches a node: the endpoint and node options, the kilnconfig context, and
one client for the call.

Commands that talk to a node take ``-e/--endpoints`` and ``-n/--nodes`` both before the command
(``kilnctl -n 10.5.0.2 version``) and after it (``kilnctl version -n 10.5.0.2``); values after it
win. Commands that a node in maintenance mode serves also take ``--insecure``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from kiln.ctl.options import global_options, split_list
from kiln.machinery import kilnconfig
from kiln.machinery.client import Client, Target, resolve
from kiln.machinery.kilnconfig import Context

FC = TypeVar("FC", bound=Callable[..., Any])
T = TypeVar("T")


def node_options(function: FC) -> FC:
    """Add ``-e/--endpoints`` and ``-n/--nodes`` to a command."""
    function = click.option(
        "-n", "--nodes", "nodes", multiple=True, metavar="HOST[:PORT]", help="Nodes to ask."
    )(function)
    return click.option(
        "-e", "--endpoints", "endpoints", multiple=True, metavar="HOST[:PORT]", help="Endpoint."
    )(function)


def insecure_option(function: FC) -> FC:
    return click.option(
        "-i",
        "--insecure",
        is_flag=True,
        help="Connect without client certificates (a node in maintenance mode).",
    )(function)


def target(
    endpoints: tuple[str, ...] = (), nodes: tuple[str, ...] = (), *, insecure: bool = False
) -> Target:
    """Where the command connects: flags first, then the kilnconfig context."""
    options = global_options()
    context = None if insecure else _context()
    return resolve(
        context,
        endpoints=split_list(endpoints) or options.endpoints,
        nodes=split_list(nodes) or options.nodes,
        insecure=insecure,
    )


def client(
    endpoints: tuple[str, ...] = (), nodes: tuple[str, ...] = (), *, insecure: bool = False
) -> Client:
    return Client(target(endpoints, nodes, insecure=insecure))


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work to completion."""
    return asyncio.run(work)


def _context() -> Context | None:
    options = global_options()
    config = kilnconfig.load(options.kilnconfig_path, missing_ok=True)
    if options.context is None and config.context is None:
        return None
    return config.current(options.context)[1]
