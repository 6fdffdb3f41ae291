"""An image as the requests of the node's Upgrade call: the manifest and its signature first,
then every artifact in chunks, read as they are sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from kiln.machinery.api import machine_pb2
from kiln.machinery.drain import DrainOptions
from kiln.machinery.osimage.source import ImageFiles, ImageSourceError

CHUNK = 1 << 20


async def upgrade_requests(
    image: ImageFiles,
    *,
    stay: bool = False,
    drain: DrainOptions | None = None,
    sent: Callable[[int], None] | None = None,
) -> AsyncIterator[machine_pb2.UpgradeRequest]:
    """The requests streaming ``image`` (the node drains itself as ``drain`` says before it
    reboots into it); ``sent`` is told the size of every chunk sent."""
    yield machine_pb2.UpgradeRequest(
        manifest=image.manifest,
        signature=image.signature,
        stay=stay,
        drain=(drain or DrainOptions()).to_proto(),
    )
    for path in image.artifacts():
        with path.open("rb") as f:
            while data := await asyncio.to_thread(f.read, CHUNK):
                yield machine_pb2.UpgradeRequest(artifact=path.name, data=data)
                if sent is not None:
                    sent(len(data))


def manifest_version(image: ImageFiles, where: str) -> str:
    """The Kiln version the image's manifest names (ImageSourceError if it names none).
    Unchecked: the node checks the signature before it trusts any of it."""
    try:
        manifest = json.loads(image.manifest)
    except ValueError:
        raise ImageSourceError(f"{where}: its manifest is not JSON") from None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if not isinstance(version, str) or not version:
        raise ImageSourceError(f"{where}: its manifest names no version")
    return version
