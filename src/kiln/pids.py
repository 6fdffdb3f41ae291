"""Processes known only by their pid: whether one is alive, what it runs, waiting for it to go
and stopping it.

For processes Kiln did not start in this run (its own children go through :mod:`kiln.process`):
what a supervisor recorded before it was killed, or the node daemons of a local cluster that
``kilnctl`` started and left running. A pid can be reused by an unrelated program, so callers
compare :func:`process_cmdline` (and :func:`process_start_time`) with what they recorded before
they send a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from kiln.process import signal_group

logger = logging.getLogger(__name__)

__all__ = ["process_alive", "process_cmdline", "process_start_time", "stop", "wait_gone"]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    return text[text.rindex(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot; None if no such process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def process_cmdline(pid: int) -> tuple[str, ...] | None:
    """The argv of ``pid`` as /proc shows it; None if no such process (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if not raw:
        return None
    return tuple(os.fsdecode(arg) for arg in raw.removesuffix(b"\0").split(b"\0"))


async def wait_gone(pid: int) -> None:
    """Wait until ``pid`` (any process, not only a child) has exited. Uses a pidfd, which
    becomes readable when the process exits."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    try:
        loop.add_reader(pidfd, on_exit)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)


async def stop(pid: int, grace: float, *, name: str = "") -> bool:
    """Stop ``pid`` (with its process group when it leads one): SIGTERM, up to ``grace``
    seconds, SIGKILL, up to 5 seconds more. Whether it is gone; a process that survived SIGKILL
    is logged.

    The caller has checked that ``pid`` still runs what it means to stop.
    """
    name = name or f"pid {pid}"
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        return True
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if leads_group:
            signal_group(pid, sig)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await wait_gone(pid)
        if not process_alive(pid):
            if leads_group:  # whatever else is left of its tree
                signal_group(pid, signal.SIGKILL)
            return True
        logger.debug("%s outlived %s", name, sig.name)
    logger.warning("%s (pid %d) survived SIGKILL", name, pid)
    return False
