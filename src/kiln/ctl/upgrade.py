"""``kilnctl upgrade`` and ``kilnctl rollback``: change the OS of an installed node in place.

The image (a build directory, a tarball of one, or an http(s) URL to either) is streamed to
the node, which checks its signature against the key its own image trusts, writes it to the
inactive A/B slot and reboots into it once; the new slot becomes the default when the node
comes up running, else the firmware falls back to the old one by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from kiln.ctl import connect
from kiln.ctl.drain import drain_options, showing_drain
from kiln.machinery.api import machine_pb2
from kiln.machinery.client import Client
from kiln.machinery.drain import DrainOptions
from kiln.machinery.osimage import source

CHUNK = 1 << 20
UPGRADE_TIMEOUT = 1800.0


async def _requests(
    image: source.ImageFiles, stay: bool, drain: DrainOptions, progress: Progress
) -> AsyncIterator[machine_pb2.UpgradeRequest]:
    task = progress.add_task("sending the image", total=image.size)
    yield machine_pb2.UpgradeRequest(
        manifest=image.manifest, signature=image.signature, stay=stay, drain=drain.to_proto()
    )
    for path in image.artifacts():
        with path.open("rb") as f:
            while data := await asyncio.to_thread(f.read, CHUNK):
                yield machine_pb2.UpgradeRequest(artifact=path.name, data=data)
                progress.advance(task, len(data))


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
                async with client:
                    requests = _requests(image, stay, drain, bar)
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
