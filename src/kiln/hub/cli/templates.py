"""``kiln-hub template validate|sync|diff|status|export|delete``: clusters from templates."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.hub.errors import HubClientError
from kiln.hub.templates.load import load_template
from kiln.hub.templates.model import ClusterTemplate

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
    """Clusters made from templates: validate, sync, diff, status, export, delete."""


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
