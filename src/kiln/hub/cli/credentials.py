"""``kiln-hub apikey``, ``kiln-hub jointoken`` and ``kiln-hub audit``."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.hub.cli import options
from kiln.hub.cli.render import FORMATS, decode, render
from kiln.machinery.api import hub_pb2
from kiln.machinery.hubjoin import write_hub_join

output_option = click.option("-o", "--output", type=click.Choice(FORMATS), default="table")


@click.group("apikey")
def apikey() -> None:
    """Create, list and revoke API keys (admin)."""


@apikey.command("create")
@click.option("--role", required=True, help="admin, operator, reader or infra-provider.")
@click.option("--expires", help="Lifetime such as 30m, 12h, 90d (default: never).")
@click.option("--description", default="")
@click.pass_context
def apikey_create(ctx: click.Context, role: str, expires: str | None, description: str) -> None:
    """Create a key and print it (once: the hub keeps only its hash)."""
    request = hub_pb2.CreateApiKeyRequest(
        role=role, expires_seconds=options.seconds(expires, "--expires"), description=description
    )

    reply = options.call_hub(ctx, lambda hub: hub.CreateApiKey, request)
    click.echo(reply.key)


@apikey.command("list")
@output_option
@click.pass_context
def apikey_list(ctx: click.Context, output: str) -> None:
    reply = options.call_hub(ctx, lambda hub: hub.ListApiKeys, hub_pb2.ListRequest())
    render(decode(list(reply.resources)), output)


@apikey.command("revoke")
@click.argument("key_id")
@click.pass_context
def apikey_revoke(ctx: click.Context, key_id: str) -> None:
    options.call_hub(ctx, lambda hub: hub.RevokeApiKey, hub_pb2.RevokeRequest(id=key_id))
    click.echo(f"API key {key_id} revoked")


@click.group("jointoken")
def jointoken() -> None:
    """Create, list and revoke the tokens machines join with."""


@jointoken.command("create")
@click.option("--expires", help="Lifetime such as 30m, 12h, 90d (default: never).")
@click.option("--description", default="")
@click.option("--url", help="The URL machines dial (default: what the hub says it is).")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a HubJoinConfig document (for kiln-machined --hub-join) instead of printing.",
)
@click.pass_context
def jointoken_create(
    ctx: click.Context,
    expires: str | None,
    description: str,
    url: str | None,
    output: Path | None,
) -> None:
    """Create a token and print it (once: the hub keeps only its hash)."""
    request = hub_pb2.CreateJoinTokenRequest(
        expires_seconds=options.seconds(expires, "--expires"), description=description
    )

    reply = options.call_hub(ctx, lambda hub: hub.CreateJoinToken, request)
    if output is None:
        click.echo(reply.token)
        return
    write_hub_join(output, url or reply.url, reply.token)
    click.echo(f"join token {reply.id} written to {output}")


@jointoken.command("list")
@output_option
@click.pass_context
def jointoken_list(ctx: click.Context, output: str) -> None:
    reply = options.call_hub(ctx, lambda hub: hub.ListJoinTokens, hub_pb2.ListRequest())
    render(decode(list(reply.resources)), output)


@jointoken.command("revoke")
@click.argument("token_id")
@click.pass_context
def jointoken_revoke(ctx: click.Context, token_id: str) -> None:
    options.call_hub(ctx, lambda hub: hub.RevokeJoinToken, hub_pb2.RevokeRequest(id=token_id))
    click.echo(f"join token {token_id} revoked")


@click.command("audit")
@click.option("--since", help="A duration back from now (30m, 2h, 7d) or a time (ISO 8601).")
@output_option
@click.pass_context
def audit(ctx: click.Context, since: str | None, output: str) -> None:
    """The audit log: every mutating call, who made it, when, and its result."""
    when = options.since(since)
    request = hub_pb2.ListAuditRequest(since_unix_ms=int(when.timestamp() * 1000) if when else 0)

    reply = options.call_hub(ctx, lambda hub: hub.ListAudit, request)
    render(decode(list(reply.resources)), output)
