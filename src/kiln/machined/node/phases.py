"""The sequencer's phases, each logged when it starts and when it ends, and published as a
machine event."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from enum import StrEnum

from kiln.machined.events import EventBus, EventType

logger = logging.getLogger("kiln.machined.sequencer")


class Phase(StrEnum):
    INITIALIZE = "initialize"  # state directory, maintenance identity, own log
    LOAD_CONFIG = "load config"  # stored (and staged) config, or none: maintenance mode
    BOOT = "boot"  # state, controllers, services, API
    RUNNING = "running"  # serving until a reboot, shutdown or reset is asked for
    REBOOT = "reboot"  # stop this boot's services, controllers and API, then boot again
    SHUTDOWN = "shutdown"  # stop everything and exit
    RESET = "reset"  # stop everything, wipe the state directory, boot into maintenance


@contextlib.asynccontextmanager
async def phase(name: Phase, events: EventBus, detail: str = "") -> AsyncIterator[None]:
    """Log and publish the start and the end (with its duration, or its failure) of a phase."""
    suffix = f" ({detail})" if detail else ""
    logger.info("phase %s: started%s", name.value, suffix)
    events.publish(EventType.PHASE, f"phase {name.value}: started{suffix}")
    started = time.monotonic()
    try:
        yield
    except Exception as err:
        logger.error("phase %s: failed: %s", name.value, err)
        events.publish(EventType.PHASE, f"phase {name.value}: failed: {err}")
        raise
    took = time.monotonic() - started
    logger.info("phase %s: done in %.2fs", name.value, took)
    events.publish(EventType.PHASE, f"phase {name.value}: done in {took:.2f}s")
