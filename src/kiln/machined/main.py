"""`kiln-machined`: the node daemon (PID 1 of Kiln OS, or a process in container mode).

Start-up order matters: the API server starts first, with the identity the node served with
last time (:mod:`kiln.machined.early`), and the rest of the node loads after it, in a thread,
so that the API answers while the config schema, the resource runtime and etcd load.

Errors are reported here and only here: one ``error:`` line each, exit code 1 (2 for usage
mistakes). SIGTERM (and SIGINT) shut the node down gracefully, exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import logging.handlers
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kiln import __version__
from kiln.errors import KilnError
from kiln.machinery.endpoints import API_PORT
from kiln.machinery.mode import Mode

if TYPE_CHECKING:
    from kiln.machined.node import Node

EXIT_ERROR = 1
EXIT_USAGE = 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EARLY_LOG_RECORDS = 10_000  # kept for the node's own log until it has loaded


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="kiln-machined", description="Run a Kiln node.")
    parse.add_argument("--version", action="version", version=f"kiln-machined {__version__}")
    parse.add_argument(
        "--mode",
        choices=[mode.value for mode in Mode],
        default=Mode.CONTAINER.value,
        help="where the node runs (default: %(default)s)",
    )
    parse.add_argument(
        "--state",
        dest="state_dir",
        required=True,
        type=Path,
        help="the node's state directory (config, resources, logs)",
    )
    parse.add_argument(
        "--config-dir",
        type=Path,
        help="where the machine config is kept (default: the state directory)",
    )
    parse.add_argument(
        "--api-addr",
        default=f"0.0.0.0:{API_PORT}",
        help="where the machine API listens, HOST:PORT (default: %(default)s)",
    )
    parse.add_argument(
        "--trust-port",
        type=_port,
        default=50001,
        help="where control-plane nodes sign workers' certificates, and workers ask for "
        "theirs (default: %(default)s)",
    )
    parse.add_argument(
        "--hub-join",
        type=Path,
        help="a HubJoinConfig file: join that Kiln Hub and keep a connection to it",
    )
    parse.add_argument(
        "--extra-service",
        dest="extra_services",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help=argparse.SUPPRESS,  # supervise an extra program once the node runs (tests, dev)
    )
    parse.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    return parse


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        run(args)
    except KilnError as exc:
        for line in exc.lines():
            _error(line)
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _error(f"{exc.strerror or exc}{where}")
        sys.exit(EXIT_ERROR)


def run(args: argparse.Namespace) -> None:
    if args.state_dir.exists() and not args.state_dir.is_dir():
        _error(f"--state {args.state_dir}: not a directory")
        sys.exit(EXIT_USAGE)
    if args.hub_join is not None and not args.hub_join.is_file():
        _error(f"--hub-join {args.hub_join}: no such file")
        sys.exit(EXIT_USAGE)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if args.mode == Mode.METAL.value:  # PID 1: the kernel filesystems before anything else
        from kiln.machined.platform.metal import runner

        runner.prepare()
        if args.hub_join is None:  # kiln.hub and kiln.join_token (kernel, firmware), if given
            from kiln.machined.platform.metal.cmdline import hub_join_file

            args.hub_join = hub_join_file()
    early_records = logging.handlers.BufferingHandler(EARLY_LOG_RECORDS)
    logging.getLogger().addHandler(early_records)
    asyncio.run(_run(args, early_records))


async def _run(args: argparse.Namespace, early_records: logging.handlers.BufferingHandler) -> None:
    from kiln.machined.address import WILDCARDS, bind_address, parse_api_addr

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    state_dir: Path = args.state_dir.absolute()
    host, port = parse_api_addr(args.api_addr)
    default_name = socket.gethostname() if host in WILDCARDS else host
    config_dir: Path | None = args.config_dir.absolute() if args.config_dir else None
    network: asyncio.Task[None] | None = None
    if args.mode == Mode.METAL.value:  # an address while the API starts and the node loads
        from kiln.machined.platform.metal import runner

        network = runner.start_network()
    # The API's modules (grpc, cryptography) load in a thread: meanwhile the loop brings the
    # network up, which a client needs as much as the API (in a VM under emulation this
    # import is seconds long).
    await asyncio.to_thread(importlib.import_module, "kiln.machined.early")
    from kiln.machined.early import EarlyApi

    early = await EarlyApi.start(state_dir, bind_address(host, port), default_name, config_dir)
    try:
        node_module = await asyncio.to_thread(importlib.import_module, "kiln.machined.node")
        options = node_module.NodeOptions(
            Mode(args.mode),
            state_dir,
            host,
            port,
            tuple(node_module.parse_extra_service(text) for text in args.extra_services),
            args.trust_port,
            args.hub_join.absolute() if args.hub_join is not None else None,
            config_dir,
        )
        node: Node = node_module.Node(options, early=early)
    except BaseException:
        if network is not None:
            network.cancel()
        if early is not None:
            await early.stop()
        raise
    root = logging.getLogger()
    root.addHandler(node.log)
    root.removeHandler(early_records)
    for record in early_records.buffer:
        node.log.handle(record)
    early_records.close()
    if stop.is_set():
        node.request_shutdown()
    if node.options.mode is Mode.METAL:
        from kiln.machined.platform.metal import runner

        await runner.run(node, network)  # as PID 1: never returns but to power off or reboot
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_shutdown)
    # Everything imported so far lives as long as the process: keep it out of the collector's
    # generations, so that collections do not walk (and touch) it again and again.
    gc.freeze()
    await node.run()
