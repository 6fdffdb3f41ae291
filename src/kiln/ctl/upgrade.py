"""``kilnctl upgrade`` and ``kilnctl rollback``: change the OS of an installed node in place.

The image (a build directory, a tarball of one, or an http(s) URL to either) is streamed to
the node, which checks its signature against the key its own image trusts, writes it to the
inactive A/B slot and reboots into it once; the new slot becomes the default when the node
comes up running, else the firmware falls back to the old one by itself.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from kiln.ctl import connect
from kiln.ctl.drain import drain_options, showing_drain
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client
from kiln.machinery.drain import DrainOptions
from kiln.machinery.osimage import source
from kiln.machinery.osimage.stream import upgrade_requests

UPGRADE_TIMEOUT = 1800.0


@click.command("upgrade")
@click.option(
    "--image",
    "where",
    required=True,
    metavar="PATH|URL",
    help="The image: a build directory, a tarball of one, or an http(s) URL to either.",
)
@click.option("--stay", is_flag=True, help="Write the inactive slot but do not reboot into it.")
@drain_options
@connect.node_options
def upgrade(
    where: str,
    stay: bool,
    drain: DrainOptions,
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
) -> None:
    """Upgrade an installed node's OS to the image given (A/B, with automatic rollback); the
    node drains itself before it reboots into the new slot."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> list[machine_pb2.Upgrade]:
        with source.open_image(where) as image:
            columns = (*Progress.get_default_columns()[:1], BarColumn(), DownloadColumn())
            with Progress(*columns, TransferSpeedColumn(), console=Console(stderr=True)) as bar:
                task = bar.add_task("sending the image", total=image.size)
                requests = upgrade_requests(
                    image, stay=stay, drain=drain, sent=lambda size: bar.advance(task, size)
                )
                async with client:
                    within = UPGRADE_TIMEOUT + drain.answer_within
                    return await showing_drain(client, lambda: client.upgrade(requests, within))

    for answer in connect.run(act(api)):
        node = answer.metadata.node or api.node
        then = "written; boots at the next reboot" if stay else "rebooting into it"
        click.echo(
            f"{node}: Kiln OS {answer.version} written to slot {answer.slot} "
            f"in {answer.seconds:.1f}s; {then}"
        )


@click.command("rollback")
@connect.node_options
def rollback(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Boot an installed node from its other A/B slot (it must hold a good image)."""
    api = connect.client(endpoints, nodes)

    async def act(client: Client) -> list[machine_pb2.Rollback]:
        async with client:
            return await client.rollback()

    for answer in connect.run(act(api)):
        node = answer.metadata.node or api.node
        click.echo(f"{node}: rolling back to slot {answer.slot} ({answer.version}); rebooting")
