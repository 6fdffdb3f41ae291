"""``kiln-hub template validate|sync|diff|status|export|delete``: clusters from templates."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from kiln.hub.cli import options
from kiln.hub.cli.cluster_status import render_status, split
from kiln.hub.cli.cluster_wait import wait_cluster
from kiln.hub.cli.connection import call, connect_clusters
from kiln.hub.cli.render import FORMATS, decode, render
from kiln.hub.errors import HubClientError
from kiln.hub.templates.dump import dump_template
from kiln.hub.templates.load import load_template
from kiln.hub.templates.model import ClusterTemplate
from kiln.machinery.api import hub_pb2, hubcluster_pb2

_FILE = click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The template (YAML documents Cluster, ControlPlane, Workers, Machine).",
)


@click.group("template")
def template() -> None:
    """Clusters made from templates: validate, sync, diff, status, list, export, delete."""


def read_template(path: Path) -> tuple[ClusterTemplate, str]:
    """The template at ``path`` (patch files read from beside it) and its text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HubClientError(f"{path}: {exc.strerror or exc}") from None
    return load_template(data, str(path), base=path.parent), data.decode("utf-8", "replace")


@template.command("validate")
@_FILE
def validate(path: Path) -> None:
    """Check a template without a hub: every problem, one line each."""
    found, _ = read_template(path)
    sets = ", ".join(f"{s.set_name} ({s.size})" for s in found.machine_sets())
    click.echo(f"{path}: cluster {found.cluster.name} is valid: {sets}")


def _sync_call(
    ctx: click.Context, path: Path, dry_run: bool
) -> tuple[str, hubcluster_pb2.SyncClusterResponse]:
    """SyncCluster (or with ``dry_run`` DiffCluster) with the template at ``path``; the
    cluster's name and the answer, whose changes are printed as a coloured diff."""
    found, _ = read_template(path)
    request = hubcluster_pb2.SyncClusterRequest(
        id=found.cluster.name, template=dump_template(found)
    )

    async def work() -> hubcluster_pb2.SyncClusterResponse:
        async with connect_clusters(options.access(ctx)) as hub:
            return await call(hub.DiffCluster if dry_run else hub.SyncCluster, request)

    reply = options.run(work())
    console = Console(highlight=False, soft_wrap=True)
    for line in reply.changes:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        console.print(Text(line, style=style))
    return request.id, reply


@template.command("sync")
@_FILE
@click.option("-w", "--wait", "wait_for", is_flag=True, help="Then until the cluster is healthy.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait waits.")
@click.pass_context
def sync(ctx: click.Context, path: Path, wait_for: bool, timeout: str) -> None:
    """Create the template's cluster, or change it to match the template."""
    limit = options.seconds(timeout, "--timeout")
    name, reply = _sync_call(ctx, path, dry_run=False)
    if reply.created:
        click.echo(f"cluster {name} created")
    else:
        click.echo(f"cluster {name} {'updated' if reply.changes else 'unchanged'}")
    if not wait_for:
        return

    async def work() -> None:
        async with connect_clusters(options.access(ctx)) as hub:
            await wait_cluster(hub, name, limit, gone=False)

    options.run(work())
    click.echo(f"cluster {name} is healthy")


@template.command("diff")
@_FILE
@click.pass_context
def diff(ctx: click.Context, path: Path) -> None:
    """What sync would change (a diff of the hub's template and this one); exit 0 either way."""
    name, reply = _sync_call(ctx, path, dry_run=True)
    if reply.created:
        click.echo(f"cluster {name} does not exist: sync creates it")
    elif not reply.changes:
        click.echo(f"cluster {name}: no changes")


@template.command("export")
@click.argument("cluster")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, cluster: str, output: Path | None) -> None:
    """The cluster's template as the hub keeps it (patches inline)."""

    async def work() -> str:
        async with connect_clusters(options.access(ctx)) as hub:
            reply = await call(hub.ExportCluster, hubcluster_pb2.ClusterRequest(id=cluster))
            return reply.template

    text = options.run(work())
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        raise HubClientError(f"{output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)


@template.command("delete")
@click.argument("cluster")
@click.option("--wait", "wait_for", is_flag=True, help="Until every machine is free again.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait waits.")
@click.pass_context
def delete(ctx: click.Context, cluster: str, wait_for: bool, timeout: str) -> None:
    """Release every machine of the cluster (reset, back to the free pool), then forget it."""
    limit = options.seconds(timeout, "--timeout")

    async def work() -> int:
        async with connect_clusters(options.access(ctx)) as hub:
            request = hubcluster_pb2.ClusterRequest(id=cluster)
            reply = await call(hub.DeleteCluster, request)
            if wait_for:
                await wait_cluster(hub, cluster, limit, gone=True)
            return reply.machines

    machines = options.run(work())
    state = "released and free" if wait_for else "being released"
    click.echo(f"cluster {cluster} deleted; its {machines} machine(s) {state}")


@template.command("status")
@click.argument("cluster")
@click.option("-w", "--wait", "wait_for", is_flag=True, help="Until the cluster is healthy.")
@click.option("--timeout", default="10m", show_default=True, help="How long --wait waits.")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table")
@click.pass_context
def status(ctx: click.Context, cluster: str, wait_for: bool, timeout: str, output: str) -> None:
    """The cluster's machines, their stages, etcd members and health."""
    limit = options.seconds(timeout, "--timeout")

    async def work() -> None:
        async with connect_clusters(options.access(ctx)) as hub:
            if wait_for:
                await wait_cluster(hub, cluster, limit, gone=False)
            reply = await call(hub.GetCluster, hubcluster_pb2.ClusterRequest(id=cluster))
        resources = decode(list(reply.resources))
        if output != "table":
            render(resources, output)
            return
        Console(highlight=False, width=200).print(render_status(*split(resources)))

    options.run(work())


@template.command("list")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table")
@click.pass_context
def list_clusters(ctx: click.Context, output: str) -> None:
    """Every cluster: its phase, machines running of those wanted, health."""

    async def work() -> list[str]:
        async with connect_clusters(options.access(ctx)) as hub:
            return list((await call(hub.ListClusters, hub_pb2.ListRequest())).resources)

    render(decode(options.run(work())), output)
