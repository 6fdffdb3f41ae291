"""``kilnctl config``: manage the contexts of the client's kilnconfig file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from kiln.ctl.options import global_options
from kiln.machinery import kilnconfig
from kiln.machinery.kilnconfig import ContextInfo, Kilnconfig
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle


def _role(_ctx: click.Context, _param: click.Parameter, value: str) -> Role:
    try:
        return Role.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _load(*, missing_ok: bool = False) -> tuple[Path, Kilnconfig]:
    path = global_options().kilnconfig_path
    return path, kilnconfig.load(path, missing_ok=missing_ok)


def _save(path: Path, config: Kilnconfig, message: str) -> None:
    kilnconfig.save(config, path)
    click.echo(f"{message} in {path}", err=True)


@click.group("config")
def config() -> None:
    """Manage contexts (endpoints, nodes, credentials) in the kilnconfig file."""


@config.command("new")
@click.argument("name")
@click.option(
    "--with-secrets",
    "secrets_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Secrets bundle whose OS CA issues the client certificate.",
)
@click.option(
    "--role",
    default=Role.ADMIN.value,
    show_default=True,
    callback=_role,
    help=f"Role the certificate grants ({', '.join(role.value for role in Role)}).",
)
@click.option("-e", "--endpoint", "endpoints", multiple=True, help="Endpoint (repeatable).")
@click.option("-n", "--node", "nodes", multiple=True, help="Default node (repeatable).")
@click.option("--force", is_flag=True, help="Replace a context of the same name.")
def new(
    name: str,
    secrets_file: Path,
    role: Role,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
    force: bool,
) -> None:
    """Add context NAME with a fresh client certificate for a role, and make it current."""
    bundle = SecretsBundle.load(secrets_file)
    path, current = _load(missing_ok=True)
    context = kilnconfig.issue_context(bundle.os_ca, role)
    updated = current.add(name, context, replace=force)
    updated = updated.with_endpoints(endpoints, name).with_nodes(nodes, name)
    _save(path, updated, f"added context {name!r} ({role.value})")


@config.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Make context NAME the current one."""
    path, current = _load()
    _save(path, current.use(name), f"current context is {name!r}")


@config.command("endpoint")
@click.argument("hosts", nargs=-1)
def endpoint(hosts: tuple[str, ...]) -> None:
    """Set the endpoints (HOST or HOST:PORT) of the context; none clears them."""
    path, current = _load()
    name, _ = current.current(global_options().context)
    _save(path, current.with_endpoints(hosts, name), f"set endpoints of {name!r}")


@config.command("node")
@click.argument("hosts", nargs=-1)
def node(hosts: tuple[str, ...]) -> None:
    """Set the default nodes of the context; none clears them."""
    path, current = _load()
    name, _ = current.current(global_options().context)
    _save(path, current.with_nodes(hosts, name), f"set nodes of {name!r}")


@config.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove context NAME."""
    path, current = _load()
    _save(path, current.remove(name), f"removed context {name!r}")


@config.command("merge")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def merge(file: Path) -> None:
    """Merge FILE's contexts in; a clashing name gets a suffix (-1, -2, ...)."""
    other = kilnconfig.load(file)
    path, current = _load(missing_ok=True)
    merged, renames = current.merge(other)
    for rename in renames:
        click.echo(f"renamed context {rename.old!r} to {rename.new!r}", err=True)
    _save(path, merged, f"merged {len(other.contexts)} context(s) from {file}")


@config.command("info")
def info() -> None:
    """Show the context: endpoints, nodes, roles and expiry of the client certificate."""
    _, current = _load()
    described = kilnconfig.describe(current, global_options().context)
    rows = [
        ("Context", described.name),
        ("Endpoints", ", ".join(described.endpoints) or "not defined"),
        ("Nodes", ", ".join(described.nodes) or "not defined"),
        ("Client", described.common_name),
        ("Roles", ", ".join(described.roles) or "none"),
        ("Expires", _expiry(described)),
        ("CA fingerprint", f"SHA256 {described.ca_fingerprint}"),
    ]
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        click.echo(f"{label + ':':<{width}}{value}")


@config.command("contexts")
def contexts() -> None:
    """List the contexts."""
    _, current = _load()
    table = Table(box=None, pad_edge=False)
    for column in ("CURRENT", "NAME", "ENDPOINTS", "NODES", "ROLES", "EXPIRES"):
        table.add_column(column)
    for described in kilnconfig.describe_all(current):
        table.add_row(
            "*" if described.current else "",
            described.name,
            ",".join(described.endpoints),
            ",".join(described.nodes),
            ",".join(described.roles),
            described.expires.date().isoformat() if described.expires else "-",
        )
    Console(soft_wrap=True).print(table)


def _expiry(described: ContextInfo) -> str:
    if described.expires is None:
        return "as the hub's API key"
    remaining = described.expires - datetime.now(UTC)
    when = described.expires.strftime("%Y-%m-%d %H:%M UTC")
    if remaining.total_seconds() <= 0:
        return f"{when} (expired)"
    return f"{when} (in {round(remaining.total_seconds() / 86400)} days)"
