"""``kiln-hub kilnconfig CLUSTER`` and ``kiln-hub kubeconfig CLUSTER``: reach a cluster the hub
made, with ``kilnctl`` through the hub and with ``kubectl`` at the cluster's endpoint.

::

    kiln-hub kilnconfig edge -o edge.kilnconfig     # your own API key (--key: another one)
    kilnctl --kilnconfig edge.kilnconfig services   # through the hub, as your key's role
    kiln-hub kubeconfig edge -o edge.kubeconfig --ttl 8h
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml

from kiln.hub.cli import options
from kiln.hub.cli.connection import HubAccess, call, connect_access
from kiln.hub.errors import HubClientError
from kiln.machinery import kilnconfig
from kiln.machinery.api import hubcluster_pb2
from kiln.machinery.errors import KilnconfigError
from kiln.machinery.kilnconfig import Context, HubRoute, Kilnconfig
from kiln.machinery.privatefile import ensure_private_dir, write_private_file

_OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it to FILE."
)
_FORCE = click.option("--force", is_flag=True, help="Replace FILE if it exists.")


@click.command("kilnconfig")
@click.argument("cluster")
@_OUTPUT
@_FORCE
@click.option("--merge", is_flag=True, help="Add the context to FILE (made if missing).")
@click.option(
    "--key",
    "key",
    help="Embed this API key instead of the one you call with (a key you hold, e.g. a "
    "reader's for someone else).",
)
@click.option("--context", "context_name", help="The context's name (default: CLUSTER@hub).")
@click.pass_context
def kilnconfig_command(
    ctx: click.Context,
    cluster: str,
    output: Path | None,
    force: bool,
    merge: bool,
    key: str | None,
    context_name: str | None,
) -> None:
    """A kilnconfig whose kilnctl calls reach the cluster's machines through the hub,
    authorized by the API key's hub role (and audited)."""
    access = options.access(ctx)
    embedded = HubAccess(access.hub, access.ca, key or access.api_key)
    if not embedded.api_key:
        raise HubClientError("no API key to embed: give --key, --api-key or KILN_HUB_API_KEY")

    async def check() -> hubcluster_pb2.ClusterAccessResponse:
        async with connect_access(embedded) as hub:  # with the key the kilnconfig holds
            return await call(hub.CheckAccess, hubcluster_pb2.ClusterRequest(id=cluster))

    reply = options.run(check())
    name = context_name or f"{cluster}@hub"
    try:
        route = HubRoute(
            url=embedded.hub,
            ca=base64.b64encode(embedded.ca).decode(),
            api_key=embedded.api_key,
            cluster=cluster,
        )
        ours = Kilnconfig(context=name, contexts={name: Context(hub=route)})
    except ValueError as exc:  # pydantic's ValidationError: the context's name or hub address
        raise HubClientError(f"context {name!r}: {_first(exc)}") from None
    machines = ", ".join(f"{n.hostname or n.address} ({n.address})" for n in reply.nodes)
    summary = f"cluster {cluster} through the hub {embedded.hub} as {reply.role}; machines: "
    if output is None:
        click.echo(kilnconfig.dump(ours), nl=False)
        click.echo(summary + machines, err=True)
        return
    if merge:
        existing = kilnconfig.load(output, missing_ok=True)
        ours, renames = existing.merge(ours)
        name = renames[0].new if renames else name
    elif output.exists() and not force:
        raise HubClientError(f"{output} already exists (use --force to replace it, --merge to add)")
    try:
        kilnconfig.save(ours, output)
    except (OSError, KilnconfigError) as exc:
        raise HubClientError(f"{output}: {exc}") from None
    click.echo(f"context {name} written to {output}: {summary}{machines}")


@click.command("kubeconfig")
@click.argument("cluster")
@_OUTPUT
@_FORCE
@click.option(
    "--ttl", default="24h", show_default=True, help="How long its client certificate is valid."
)
@click.pass_context
def kubeconfig_command(
    ctx: click.Context, cluster: str, output: Path | None, force: bool, ttl: str
) -> None:
    """An admin kubeconfig for the cluster (operator; audited): a client certificate from the
    cluster's Kubernetes CA, valid for --ttl, for the cluster's endpoint (the hub does not
    proxy the Kubernetes API)."""
    seconds = options.seconds(ttl, "--ttl")
    if output is not None and output.exists() and not force:
        raise HubClientError(f"{output} already exists (use --force to replace it)")
    request = hubcluster_pb2.ClusterKubeconfigRequest(id=cluster, ttl_seconds=seconds)

    async def work() -> hubcluster_pb2.ClusterKubeconfigResponse:
        async with connect_access(options.access(ctx)) as hub:
            return await call(hub.Kubeconfig, request)

    reply = options.run(work())
    text = reply.kubeconfig.decode()
    expires = datetime.fromtimestamp(reply.expires_unix, UTC).strftime("%Y-%m-%d %H:%M UTC")
    server = yaml.safe_load(text)["clusters"][0]["cluster"]["server"]
    summary = f"admin kubeconfig of cluster {cluster} for {server}, valid until {expires}"
    if output is None:
        click.echo(text, nl=False)
        click.echo(summary, err=True)
        return
    try:
        ensure_private_dir(output.parent)
        write_private_file(output, text)
    except OSError as exc:
        raise HubClientError(f"{output}: {exc.strerror or exc}") from None
    click.echo(f"{summary} written to {output}")


def _first(error: ValueError) -> str:
    """The first problem pydantic found, in one line."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)
