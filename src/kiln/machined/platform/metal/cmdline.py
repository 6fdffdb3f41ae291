"""What a machine reads from its kernel command line: the hub to join.

``kiln.hub=URL kiln.join_token=TOKEN`` make a machine that has no other instruction join that
hub (the same as a HubJoinConfig document): the image can be put anywhere and the machine
shows up in the hub's inventory. The same two may come as SMBIOS OEM strings from the
machine's firmware (:mod:`.smbios`), for machines booted from a shared ISO or disk; the
kernel command line wins where both give them.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from kiln.machined.platform.metal import smbios

HUB, JOIN_TOKEN = "kiln.hub", "kiln.join_token"
HUB_JOIN_FILE = Path("/run/kiln/hub-join.yaml")


def arguments(text: str) -> dict[str, str]:
    """``key=value`` arguments of a kernel command line (the last one of a key wins)."""
    found: dict[str, str] = {}
    for word in shlex.split(text):
        key, equals, value = word.partition("=")
        if equals:
            found[key] = value
    return found


def hub_join_file(
    cmdline: Path = Path("/proc/cmdline"),
    target: Path = HUB_JOIN_FILE,
    dmi_table: Path = smbios.DMI_TABLE,
) -> Path | None:
    """A hub-join file made from ``kiln.hub`` and ``kiln.join_token`` (kernel command line,
    else SMBIOS OEM strings), or None when neither names a hub."""
    given = arguments(cmdline.read_text())
    if not (given.get(HUB) and given.get(JOIN_TOKEN)):
        given = {**smbios.oem_arguments(dmi_table), **given}
    url, token = given.get(HUB), given.get(JOIN_TOKEN)
    if not url or not token:
        return None
    # here, not above: the config models it loads are not needed before the API starts
    from kiln.machinery.hubjoin.config import write_hub_join

    target.parent.mkdir(parents=True, exist_ok=True)
    write_hub_join(target, url, token)
    return target
