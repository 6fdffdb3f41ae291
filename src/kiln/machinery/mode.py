"""Where a node runs: one small module, so that the node daemon can read its options before
the config schema loads."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Where a node runs."""

    METAL = "metal"
    CONTAINER = "container"
    CLOUD = "cloud"
