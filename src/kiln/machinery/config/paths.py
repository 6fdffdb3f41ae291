"""Paths inside a config document, written the way a user finds them in the YAML file.

``("machine", "network", "interfaces", 0, "addresses", 1)`` is rendered
``machine.network.interfaces[0].addresses[1]``; a key that is not a plain word (a sysctl name,
a registry host) is quoted: ``machine.sysctls["net.ipv4.ip_forward"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

# Keys that need no quoting: camelCase field names and other simple words.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*", re.ASCII)

PathPart = str | int


def render_path(parts: Iterable[PathPart]) -> str:
    """Render a location as ``a.b[0]["c.d"]``; the empty location renders as ``""``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{json.dumps(part, ensure_ascii=False)}]"
    return path
