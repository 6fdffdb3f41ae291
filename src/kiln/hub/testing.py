"""A real ``kiln-hub serve`` process for tests, and a typed client of its API.

::

    async with HubProcess(tmp_path / "hub", host="127.88.0.1") as hub:
        async with hub.client() as api:            # the initial admin key
            token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
        await hub.restart()                         # same data, same ports

Public on purpose, like :class:`kiln.machined.testing.NodeProcess`: integration tests and the
benchmark use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

from kiln import process
from kiln.hub.cli.connection import HubAccess, connect
from kiln.hub.clientconfig import FILE_NAME, read_client_config
from kiln.machinery.api import hub_pb2_grpc
from kiln.machinery.probe import api_answers, free_port

START_TIMEOUT = 30.0
POLL = 0.05
_KEY = re.compile(r"initial admin API key[^:]*: (\S+)")


class HubStartError(RuntimeError):
    pass


class HubProcess:
    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = free_port(host)
        self.machine_port = free_port(host)
        self.output_path = data_dir.with_name(f"{data_dir.name}.out")
        self.admin_key = ""
        self._child: process.Child | None = None
        self._copier: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "kiln.hub", "serve", "--data", str(self.data_dir),
            "--listen", self.address, "--machine-listen", f"{self.host}:{self.machine_port}",
        ]  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        child = await process.spawn(self.argv, env={"PYTHONUNBUFFERED": "1"})
        self._child = child
        self._copier = asyncio.create_task(
            process.copy_output(child, self.output_path), name="hub output"
        )
        try:
            async with asyncio.timeout(timeout):
                while not (
                    await api_answers(self.host, self.port)
                    and await api_answers(self.host, self.machine_port)
                ):
                    if child.returncode is not None:
                        raise HubStartError(f"kiln-hub exited early:\n{self.output()}")
                    await asyncio.sleep(POLL)
        except TimeoutError:
            message = f"kiln-hub did not answer in {timeout:g}s:\n{self.output()}"
            raise HubStartError(message) from None
        found = _KEY.search(self.output())
        if found is not None:
            self.admin_key = found.group(1)

    async def stop(self, grace: float = 10.0) -> int:
        if self._child is None:
            return 0
        code = await process.terminate(self._child, grace)
        await self._finish()
        return code

    async def kill(self) -> int:
        """SIGKILL: what ``kill -9`` does."""
        if self._child is None:
            return 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._child.pid, signal.SIGKILL)
        code = await self._child.wait()
        await self._finish()
        return code

    def access(self, api_key: str | None = None) -> HubAccess:
        config = read_client_config(self.data_dir / FILE_NAME)
        key = self.admin_key if api_key is None else api_key
        return HubAccess(config.hub, config.ca.encode(), key)

    @contextlib.asynccontextmanager
    async def client(
        self, api_key: str | None = None
    ) -> AsyncIterator[hub_pb2_grpc.HubServiceAsyncStub]:
        async with connect(self.access(api_key)) as stub:
            yield stub

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
        if self._child is not None and self._child.returncode is None:
            await self.stop()

    async def _finish(self) -> None:
        await process.finish_copy(self._copier)
