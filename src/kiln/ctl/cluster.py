"""``kilnctl cluster create|show|destroy``: local clusters of container-mode nodes."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from kiln.ctl import connect, render
from kiln.ctl.options import global_options
from kiln.machinery.config import Patch, parse_patch
from kiln.machinery.config.model import DEFAULT_KUBERNETES_VERSION
from kiln.provision import (
    ClusterRecord,
    ClusterRequest,
    ContainerProvisioner,
    Progress,
    Status,
)

PROVISIONERS = ("container",)
MARKS = {Status.DONE: "[green]✓[/]", Status.FAILED: "[red]✗[/]", Status.WAITING: "[dim]…[/]"}

_NAME = click.option("--name", required=True, help="The cluster's name.")
_STATE = click.option(
    "--state",
    "state_root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding one directory per cluster [default: ~/.kiln/clusters].",
)


@click.group("cluster")
def cluster() -> None:
    """Create, show and destroy local clusters."""


@cluster.command("create")
@click.option(
    "--provisioner", type=click.Choice(PROVISIONERS), default="container", show_default=True
)
@_NAME
@click.option("--controlplanes", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(0, 200), default=0, show_default=True)
@click.option("--kubernetes-version", help=f"[default: {DEFAULT_KUBERNETES_VERSION}]")
@click.option(
    "--config-patch",
    "config_patches",
    multiple=True,
    metavar="@FILE|YAML",
    help="Patch every node's config (@file or inline YAML/JSON); repeat to apply several.",
)
@_STATE
def create(
    provisioner: str,
    name: str,
    controlplanes: int,
    workers: int,
    kubernetes_version: str | None,
    config_patches: tuple[str, ...],
    state_root: Path | None,
) -> None:
    """Start a cluster of nodes on this machine, bootstrap it, add a kilnconfig context."""
    request = ClusterRequest(
        name,
        controlplanes=controlplanes,
        workers=workers,
        kubernetes_version=kubernetes_version,
        config_patches=_patches(config_patches),
        state_root=state_root,
        kilnconfig=global_options().kilnconfig_path,
    )
    out = render.console()
    out.print(
        f"creating cluster {name}: {controlplanes} control plane(s), {workers} worker(s), "
        f"state in {escape(str(request.state_dir))}"
    )
    state = f" --state {state_root}" if state_root is not None else ""
    try:
        record = connect.run(ContainerProvisioner(ProgressLines()).create(request))
    except KeyboardInterrupt:
        click.echo(
            f"the cluster's state stays in {request.state_dir}; "
            f"kilnctl cluster destroy --name {name}{state} removes it",
            err=True,
        )
        raise
    _nodes_table(record)
    out.print(f"kilnconfig: context {record.context} in {escape(str(record.kilnconfig))}")
    out.print(f"destroy it with: kilnctl cluster destroy --name {name}{escape(state)}")


@cluster.command("show")
@_NAME
@_STATE
def show(name: str, state_root: Path | None) -> None:
    """Show a cluster's nodes, addresses and whether their daemons run."""
    view = connect.run(ContainerProvisioner(state_root=state_root).show(name))
    record = view.record
    render.console().print(
        f"cluster {name}: {'complete' if record.complete else 'incomplete (create did not finish)'}"
        f", state in {escape(record.state_dir)}"
    )
    rows = []
    for node in view.nodes:
        if node.alive:
            daemon = "running" if node.listening else "running, API not listening"
        else:
            daemon = "dead" if node.node.pid else "not started"
            if node.leftovers:
                daemon += f" ({', '.join(node.leftovers)} still running)"
        rows.append(
            [
                node.node.name,
                node.node.role.value,
                node.node.address,
                str(node.node.pid or "-"),
                daemon,
            ]
        )
    render.table(["node", "role", "address", "pid", "daemon"], rows)


@cluster.command("destroy")
@_NAME
@_STATE
def destroy(name: str, state_root: Path | None) -> None:
    """Stop a cluster's nodes and remove its state and kilnconfig context."""
    provisioner = ContainerProvisioner(ProgressLines(), state_root=state_root)
    done = connect.run(provisioner.destroy(name))
    out = render.console()
    out.print(escape(done.context))
    out.print(f"removed {escape(str(done.state_dir))}")


class ProgressLines:
    """Progress as lines: each step's outcome on each node, and what it waits for."""

    def __init__(self) -> None:
        self.console = render.console()

    def __call__(self, event: Progress) -> None:
        mark = MARKS.get(event.status)
        if mark is None:
            return
        node = f" [bold]{escape(event.node)}[/]" if event.node else ""
        detail = f": {escape(event.detail)}" if event.detail else ""
        style = "dim" if event.status is Status.WAITING else ""
        text = f"{mark} {escape(event.step)}{node}{detail}"
        self.console.print(f"[{style}]{text}[/]" if style else text)


def _nodes_table(record: ClusterRecord) -> None:
    render.table(
        ["node", "role", "address", "pid"],
        [[n.name, n.role.value, n.address, str(n.pid or "-")] for n in record.nodes],
    )


def _patches(arguments: tuple[str, ...]) -> list[Patch]:
    return [
        parse_patch(text, source=None if text.startswith("@") else f"--config-patch {number}")
        for number, text in enumerate(arguments, start=1)
    ]
