"""``kilnctl health``: check every node of the cluster and its etcd, waiting until all pass."""

from __future__ import annotations

import dataclasses
import sys

import click
from rich.markup import escape

from kiln.ctl import connect, render
from kiln.ctl.errors import CliError
from kiln.ctl.options import duration_seconds, global_options, split_list
from kiln.machinery import kilnconfig
from kiln.machinery.health import Check, HealthTargets, failed, wait_healthy
from kiln.machinery.kilnconfig import Context


@click.command("health")
@click.option(
    "--wait-timeout",
    default="5m",
    show_default=True,
    callback=duration_seconds,
    help="How long to wait for every check to pass.",
)
@click.option(
    "--control-plane-nodes",
    multiple=True,
    metavar="HOST[:PORT]",
    help="The control-plane nodes [default: the endpoints].",
)
@click.option(
    "--worker-nodes",
    multiple=True,
    metavar="HOST[:PORT]",
    help="The worker nodes [default: the nodes that are not control planes].",
)
@click.option(
    "--kubernetes",
    is_flag=True,
    help="Check the Kubernetes control plane too: apiserver ready, other components healthy.",
)
@connect.node_options
def health(
    wait_timeout: float,
    control_plane_nodes: tuple[str, ...],
    worker_nodes: tuple[str, ...],
    kubernetes: bool,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Check that every node runs and is ready with its services, and that etcd has one healthy
    voting member per control plane (with --kubernetes: that every control plane's Kubernetes
    components are ready). Exits 1 if a check still fails after --wait-timeout."""
    options = global_options()
    context = _context()
    controlplanes = (
        split_list(control_plane_nodes)
        or split_list(endpoints)
        or options.endpoints
        or tuple(context.endpoints)
    )
    others = split_list(nodes) or options.nodes or tuple(context.nodes)
    targets = HealthTargets.of(controlplanes, split_list(worker_nodes) or others)
    targets = dataclasses.replace(targets, kubernetes=kubernetes)
    if not targets.controlplanes and context.hub is not None:
        raise CliError(
            "no control-plane nodes: give --control-plane-nodes (the hub checks the health of "
            f"its clusters itself: kiln-hub template status {context.hub.cluster})"
        )
    if not targets.controlplanes:
        raise CliError("no control-plane nodes: give --control-plane-nodes or -e/--endpoints")
    out = render.console()
    status = out.status("checking", spinner="dots") if sys.stdout.isatty() else None

    def on_round(checks: list[Check]) -> None:
        if status is not None:
            bad = failed(checks)
            status.update(f"waiting: {escape(str(bad[0]))}" if bad else "healthy")

    if status is not None:
        status.start()
    try:
        checks = connect.run(wait_healthy(context, targets, wait_timeout, on_round=on_round))
    finally:
        if status is not None:
            status.stop()
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        out.print(f"{mark} {escape(str(check))}")
    bad = failed(checks)
    if bad:
        raise CliError(f"{len(bad)} of {len(checks)} checks failed after {wait_timeout:g}s")
    out.print(f"healthy: all {len(checks)} checks pass")


def _context() -> Context:
    options = global_options()
    config = kilnconfig.load(options.kilnconfig_path, missing_ok=True)
    return config.current(options.context)[1]
