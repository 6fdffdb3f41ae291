"""The last resort of a trial boot: reboot the machine outright when the slot is still not
healthy some time after its deadline (the node's orderly reboot at the deadline did not
happen: its event loop is stuck, or stopping hangs). A thread, so that it does not depend
on the event loop; one per process, kept across the boots of the node daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiln.machined.platform.metal import pid1

logger = logging.getLogger(__name__)

GRACE = 60.0  # after the deadline: the orderly reboot's time


class Backstop:
    def __init__(self, reboot: Callable[[], None]) -> None:
        self._reboot = reboot
        self._disarmed = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, at_uptime: float) -> None:
        """Reboot :data:`GRACE` seconds after the system's uptime reaches ``at_uptime`` (or
        after now, if that is later: a node that started past its deadline first gets its
        orderly reboot), unless disarmed before. Arming again is a no-op."""
        if self._thread is not None or self._disarmed.is_set():
            return
        fire_at = max(at_uptime, uptime()) + GRACE
        self._thread = threading.Thread(
            target=self._watch, args=(fire_at,), name="trial backstop", daemon=True
        )
        self._thread.start()

    def disarm(self) -> None:
        self._disarmed.set()

    def _watch(self, at_uptime: float) -> None:
        if self._disarmed.wait(max(0.0, at_uptime - uptime())):
            return
        logger.error("the slot is still not healthy %gs after its deadline: rebooting now", GRACE)
        self._reboot()


def uptime() -> float:
    """Seconds since the kernel started (suspended time included)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


BACKSTOP = Backstop(lambda: pid1.power(reboot=True))
