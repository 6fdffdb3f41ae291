"""A slot's trial boot after an upgrade: how long it has to become healthy, and the switch
that makes a test image never become healthy.

The node that writes the new slot records the deadline in the slot's entry as the kernel
argument ``kiln.health-timeout=SECONDS`` (from ``machine.install.upgradeHealthTimeout``):
the new slot learns it before it reads any config, so a config it cannot use does not
leave it without one. ``kiln.break-health`` is put on the command line of test images built
with ``kilnctl image build --break-health``.
"""

from __future__ import annotations

import math

HEALTH_TIMEOUT_ARG = "kiln.health-timeout"
BREAK_HEALTH_ARG = "kiln.break-health"
DEFAULT_HEALTH_TIMEOUT = 300.0
MIN_HEALTH_TIMEOUT = 10.0
MAX_HEALTH_TIMEOUT = 86400.0


def check_health_timeout(seconds: float) -> float:
    """``seconds`` if it is a usable deadline; ValueError saying the bounds if not."""
    if not MIN_HEALTH_TIMEOUT <= seconds <= MAX_HEALTH_TIMEOUT:
        raise ValueError(
            f"must be between {MIN_HEALTH_TIMEOUT:g}s and 24h: the time a slot written by an "
            "upgrade has, from its kernel's start, to reach running"
        )
    return seconds


def health_timeout_arg(seconds: float) -> str:
    return f"{HEALTH_TIMEOUT_ARG}={math.ceil(seconds)}"


def health_timeout(arguments: dict[str, str]) -> float:
    """The deadline a kernel command line's ``key=value`` arguments give (the default when it
    is missing or unusable: a trial boot always has one)."""
    try:
        return check_health_timeout(float(arguments[HEALTH_TIMEOUT_ARG]))
    except (KeyError, ValueError):
        return DEFAULT_HEALTH_TIMEOUT


def health_broken(words: list[str]) -> bool:
    return BREAK_HEALTH_ARG in words
