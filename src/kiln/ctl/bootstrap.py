"""``kilnctl bootstrap [--recover-from FILE]``: create the cluster's etcd on one control-plane
node, once; the other control-plane nodes join it by themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from kiln.ctl import connect
from kiln.machinery.client import Client


@click.command("bootstrap")
@click.option(
    "--recover-from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Recover the new cluster from this etcd snapshot (see 'kilnctl etcd snapshot').",
)
@click.option(
    "--recover-skip-hash-check",
    is_flag=True,
    help="Accept a database file copied from a data directory (it has no integrity hash).",
)
@connect.node_options
def bootstrap(
    recover_from: Path | None,
    recover_skip_hash_check: bool,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Create the etcd cluster on a control-plane node (once per cluster)."""
    if recover_skip_hash_check and recover_from is None:
        raise click.UsageError("--recover-skip-hash-check needs --recover-from")
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> None:
        snapshot = await asyncio.to_thread(recover_from.read_bytes) if recover_from else None
        async with client:
            await client.bootstrap(
                recover_snapshot=snapshot, skip_hash_check=recover_skip_hash_check
            )

    connect.run(act(api))
    source = f" from {recover_from}" if recover_from else ""
    click.echo(f"{api.node}: etcd cluster bootstrapped{source}")
