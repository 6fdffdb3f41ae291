"""``kilnctl kubeconfig``: an admin kubeconfig for the cluster, issued by a control-plane node.

::

    kilnctl kubeconfig                   print it
    kilnctl kubeconfig -o FILE           write it to FILE (0600; --force to replace)
    kilnctl kubeconfig --merge           merge it into $KUBECONFIG (first file) or ~/.kube/config
    kilnctl kubeconfig --merge -o FILE   merge it into FILE (made if missing)

Merging replaces the cluster, user and context of the same names and makes the new context
current; everything else in the file stays.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from kiln.ctl import connect
from kiln.ctl.errors import CliError
from kiln.ctl.outputs import write_new_files
from kiln.machinery.kubernetes import kubeconfig
from kiln.machinery.privatefile import ensure_private_dir, write_private_file


def default_kubeconfig() -> Path:
    """Where kubectl looks first: the first path of ``$KUBECONFIG``, else ``~/.kube/config``."""
    configured = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(configured[0]) if configured else Path.home() / ".kube" / "config"


@click.command("kubeconfig")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.option("--merge", is_flag=True, help="Merge into the file instead of replacing it.")
@click.option("--force", is_flag=True, help="Replace an existing file (without --merge).")
@connect.node_options
def kubeconfig_command(
    output: Path | None,
    merge: bool,
    force: bool,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Get an admin kubeconfig for the cluster from a control-plane node."""
    api = connect.client(endpoints, nodes[:1])

    async def ask() -> bytes:
        async with api:
            answers = await api.kubeconfig()
        return bytes(answers[0].kubeconfig)

    text = connect.run(ask()).decode()
    if not merge:
        if output is None:
            click.echo(text, nl=False)
            return
        write_new_files({output: text}, force=force)
        click.echo(f"kubeconfig written to {output}")
        return
    target = output or default_kubeconfig()
    new = yaml.safe_load(text)
    try:
        existing = yaml.safe_load(target.read_text()) if target.exists() else None
    except yaml.YAMLError as exc:
        raise CliError(f"{target}: not valid YAML ({exc})") from None
    merged = kubeconfig.merge(existing, new, str(target))
    ensure_private_dir(target.parent)
    write_private_file(target, kubeconfig.dump(merged))
    click.echo(f"context {new['current-context']} merged into {target} (now current)")
