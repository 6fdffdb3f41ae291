"""``kiln-hub get machines|replicas``, ``label``, ``machine version|revoke`` and ``logs``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kiln.hub.cli import options
from kiln.hub.cli.connection import call, connect, stream
from kiln.hub.cli.render import FORMATS, decode, render
from kiln.hub.errors import HubClientError
from kiln.hub.resources import hub_registry
from kiln.machinery import kilnconfig
from kiln.machinery.api import hub_pb2
from kiln.machinery.client import MutualTLS
from kiln.resources import from_dict


@click.group("get")
def get() -> None:
    """List resources of the hub."""


@get.command("machines")
@click.option("-l", "--selector", default="", help="Label selector, e.g. kiln.dev/stage=running")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table")
@click.option("-w", "--watch", is_flag=True, help="Then print every change.")
@click.pass_context
def get_machines(ctx: click.Context, selector: str, output: str, watch: bool) -> None:
    """The machines of the inventory."""
    request = hub_pb2.ListRequest(selector=selector)

    async def work() -> None:
        async with connect(options.access(ctx)) as hub:
            if not watch:
                reply = await call(hub.ListMachines, request)
                render(decode(list(reply.resources)), output)
                return
            registry = hub_registry()
            header = True
            async for event in stream(hub.WatchMachines(request)):
                if not event.resource:
                    continue
                resource = from_dict(registry, json.loads(event.resource))
                render([resource], output, header=header, event=event.type)
                header = False

    options.run(work())


@get.command("replicas")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table")
@click.pass_context
def get_replicas(ctx: click.Context, output: str) -> None:
    """The hub processes serving this hub's database, and which one leads."""

    async def work() -> None:
        async with connect(options.access(ctx)) as hub:
            reply = await call(hub.ListReplicas, hub_pb2.ListRequest())
            render(decode(list(reply.resources)), output)

    options.run(work())


@click.command("label")
@click.argument("machine")
@click.argument("labels", nargs=-1, required=True)
@click.pass_context
def label(ctx: click.Context, machine: str, labels: tuple[str, ...]) -> None:
    """Set (key=value) or remove (key-) user labels of a machine."""
    changes: dict[str, str] = {}
    removed: list[str] = []
    for text in labels:
        if text.endswith("-") and "=" not in text:
            removed.append(text[:-1])
        elif "=" in text:
            key, _, value = text.partition("=")
            changes[key] = value
        else:
            raise HubClientError(f"label {text!r}: expected key=value or key-")
    request = hub_pb2.LabelMachineRequest(id=machine, set=changes, remove=removed)

    options.call_hub(ctx, lambda hub: hub.LabelMachine, request)
    click.echo(f"machine {machine} labelled")


@click.group("machine")
def machine() -> None:
    """Act on one machine."""


@machine.command("version")
@click.argument("uuid")
@click.pass_context
def machine_version(ctx: click.Context, uuid: str) -> None:
    """The machine's Version call, relayed through its connection to the hub."""

    reply = options.call_hub(ctx, lambda hub: hub.MachineVersion, hub_pb2.MachineRequest(id=uuid))
    click.echo(f"node:        {reply.node}")
    click.echo(f"tag:         {reply.tag}")
    click.echo(f"python:      {reply.python}")
    click.echo(f"os:          {reply.os} ({reply.arch})")
    click.echo(f"maintenance: {str(reply.maintenance).lower()}")


@machine.command("revoke")
@click.argument("uuid")
@click.pass_context
def machine_revoke(ctx: click.Context, uuid: str) -> None:
    """Refuse the machine's certificate and secret from now on (its connection ends)."""

    options.call_hub(ctx, lambda hub: hub.RevokeMachine, hub_pb2.RevokeRequest(id=uuid))
    click.echo(f"machine {uuid} revoked")


@machine.command("credentials")
@click.argument("uuid")
@click.option(
    "--kilnconfig",
    "kilnconfig_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A kilnconfig whose context holds a client certificate of the machine's cluster.",
)
@click.option("--context", "context_name", help="The context to take (default: current).")
@click.pass_context
def machine_credentials(
    ctx: click.Context, uuid: str, kilnconfig_path: Path, context_name: str | None
) -> None:
    """Give the hub the client certificate it calls a configured machine's API with."""
    _, context = kilnconfig.load(kilnconfig_path).current(context_name)
    tls = MutualTLS.of(context)
    request = hub_pb2.MachineCredentialsRequest(id=uuid, ca=tls.ca, crt=tls.crt, key=tls.key)

    options.call_hub(ctx, lambda hub: hub.SetMachineCredentials, request)
    click.echo(f"machine {uuid}: the hub calls its API with the given certificate")


@click.command("logs")
@click.argument("machine")
@click.argument("service", default="machined")
@click.option("-f", "--follow", is_flag=True)
@click.option("--tail", type=int, default=-1, help="Only the last N lines (-1: all kept).")
@click.pass_context
def logs(ctx: click.Context, machine: str, service: str, follow: bool, tail: int) -> None:
    """A service's log on a machine, relayed through its connection to the hub."""
    request = hub_pb2.MachineLogsRequest(
        id=machine, service=service, tail_lines=tail, follow=follow
    )

    async def work() -> None:
        async with connect(options.access(ctx)) as hub:
            async for data in stream(hub.MachineLogs(request, timeout=None)):
                click.echo(data.bytes.decode("utf-8", "replace"), nl=False)

    options.run(work())
