"""A daemon that tests and benchmarks start: its output copied to a file, stopped by its PID.

:class:`kiln.machined.testing.NodeProcess` and :class:`kiln.hub.testing.HubProcess` build on
it; a subclass says how to start (``start``) and what error a misuse raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from kiln import process
from kiln.errors import KilnError


class DaemonProcess:
    #: What :meth:`stop`, :meth:`kill` and :meth:`wait` raise before the daemon was started.
    start_error: type[KilnError] = KilnError

    def __init__(self, output_path: Path) -> None:
        self.output_path = output_path
        self._child: process.Child | None = None
        self._copier: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.returncode is None

    async def start(self) -> None:
        raise NotImplementedError

    async def spawn(self, argv: Sequence[str], name: str) -> process.Child:
        """Start ``argv`` (unbuffered Python output) with its output copied to the file."""
        child = await process.spawn(argv, env={"PYTHONUNBUFFERED": "1"})
        self._child = child
        copying = process.copy_output(child, self.output_path)
        self._copier = asyncio.create_task(copying, name=name)
        return child

    async def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, up to ``grace`` seconds, then SIGKILL; the exit code."""
        code = await process.terminate(self._require(), grace)
        await self._finish()
        return code

    async def kill(self) -> int:
        """SIGKILL the daemon only (what ``kill -9`` does); the exit code."""
        child = self._require()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        code = await child.wait()
        await self._finish()
        return code

    async def wait(self) -> int:
        """Wait for the daemon to exit by itself; the exit code."""
        code = await self._require().wait()
        await self._finish()
        return code

    def output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.running:
            await self.stop()

    def _require(self) -> process.Child:
        if self._child is None:
            raise self.start_error("the daemon was not started")
        return self._child

    async def _finish(self) -> None:
        await process.finish_copy(self._copier)
