"""``kiln-hub apikey``, ``kiln-hub jointoken`` and ``kiln-hub audit``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kiln.hub.cli import options
from kiln.hub.cli.render import FORMATS, decode, render
from kiln.machinery.api import hub_pb2, hub_pb2_grpc
from kiln.machinery.hubjoin import write_hub_join

output_option = click.option("-o", "--output", type=click.Choice(FORMATS), default="table")
if TYPE_CHECKING:  # the async stub type exists only for type checkers
    Pick = Callable[[hub_pb2_grpc.HubServiceAsyncStub], Callable[..., Awaitable[Any]]]


def add_list_and_revoke(group: click.Group, what: str, listing: Pick, revoking: Pick) -> None:
    """The ``list`` and ``revoke ID`` commands of API keys and join tokens."""

    @group.command("list", help=f"List the {what}s (without their secrets).")
    @output_option
    @click.pass_context
    def list_command(ctx: click.Context, output: str) -> None:
        reply = options.call_hub(ctx, listing, hub_pb2.ListRequest())
        render(decode(list(reply.resources)), output)

    @group.command("revoke", help=f"Refuse the {what} from now on.")
    @click.argument("item_id", metavar="ID")
    @click.pass_context
    def revoke_command(ctx: click.Context, item_id: str) -> None:
        options.call_hub(ctx, revoking, hub_pb2.RevokeRequest(id=item_id))
        click.echo(f"{what} {item_id} revoked")


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


add_list_and_revoke(apikey, "API key", lambda hub: hub.ListApiKeys, lambda hub: hub.RevokeApiKey)
add_list_and_revoke(
    jointoken, "join token", lambda hub: hub.ListJoinTokens, lambda hub: hub.RevokeJoinToken
)


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
