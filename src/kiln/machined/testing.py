"""Real node daemons for tests: a ``kiln-machined`` subprocess on a loopback address with its own
state directory, started until its API answers and stopped by PID.

::

    async with NodeProcess(tmp_path / "node") as node:       # maintenance mode
        target = client.resolve(None, endpoints=[node.endpoint], insecure=True)
        ...
        await node.kill()                                      # SIGKILL, the daemon only
        await node.start()                                     # again, same state directory

Public on purpose: integration tests of the node, the CLI and the hub all use it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kiln.daemons import DaemonProcess
from kiln.errors import KilnError
from kiln.machinery.probe import api_answers, free_port

START_TIMEOUT = 30.0
POLL = 0.05


class NodeStartError(KilnError):
    """The daemon exited or did not answer in time; the message ends with its output."""


class NodeProcess(DaemonProcess):
    """One ``kiln-machined --mode container`` process (see the module docstring)."""

    start_error = NodeStartError

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        trust_port: int | None = None,
        extra_services: Sequence[str] = (),
        log_level: str = "info",
        hub_join: Path | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.host = host
        self.port = port or free_port(host)
        self.trust_port = trust_port or free_port(host)  # nodes of one cluster share one
        while self.trust_port == self.port:
            self.trust_port = free_port(host)
        self.extra_services = tuple(extra_services)
        self.log_level = log_level
        self.hub_join = hub_join
        super().__init__(state_dir.with_name(f"{state_dir.name}.out"))

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "kiln.machined", "--mode", "container"]
        argv += ["--state", str(self.state_dir), "--api-addr", self.endpoint]
        argv += ["--trust-port", str(self.trust_port)]
        argv += ["--log-level", self.log_level]
        for service in self.extra_services:
            argv += ["--extra-service", service]
        if self.hub_join is not None:
            argv += ["--hub-join", str(self.hub_join)]
        return argv

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Start the daemon and wait until its API answers; NodeStartError if it does not."""
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        await self.spawn(self.argv, f"node {self.endpoint}")
        await self.wait_answering(timeout)

    async def wait_answering(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until the API answers (after a start, a reboot or a reset)."""
        try:
            async with asyncio.timeout(timeout):
                while not await api_answers(self.host, self.port):
                    if self._child is None or self._child.returncode is not None:
                        raise NodeStartError(f"kiln-machined exited early{self._output_tail()}")
                    await asyncio.sleep(POLL)
        except TimeoutError:
            raise NodeStartError(
                f"kiln-machined did not answer on {self.endpoint} in {timeout:g}s"
                f"{self._output_tail()}"
            ) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, traceback)
        if self._child is not None:
            self._child.signal_group(signal.SIGKILL)  # services a killed daemon left behind

    def _output_tail(self, lines: int = 30) -> str:
        tail = self.output().splitlines()[-lines:]
        return (":\n" + "\n".join(tail)) if tail else ""
