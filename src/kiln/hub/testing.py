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
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from kiln.daemons import DaemonProcess
from kiln.errors import KilnError
from kiln.hub.cli.connection import HubAccess, connect
from kiln.hub.clientconfig import FILE_NAME, read_client_config
from kiln.machinery.api import hub_pb2_grpc
from kiln.machinery.probe import api_answers, free_port

START_TIMEOUT = 30.0
POLL = 0.05
_KEY = re.compile(r"initial admin API key[^:]*: (\S+)")
SERVING = "serving its API on"  # the hub's last line of its start


class HubStartError(KilnError):
    """The hub exited or did not answer in time; the message ends with its output."""


class HubProcess(DaemonProcess):
    """One ``kiln-hub serve`` process (see the module docstring)."""

    start_error = HubStartError

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        database: str | None = None,
        machine_keepalive: float | None = None,
    ) -> None:
        super().__init__(data_dir.with_name(f"{data_dir.name}.out"))
        self.data_dir = data_dir
        self.database = database  # a URL; None: SQLite in the data directory
        self.machine_keepalive = machine_keepalive  # None: the hub's default
        self.host = host
        self.port = free_port(host)
        self.machine_port = free_port(host)
        self.admin_key = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    @property
    def argv(self) -> list[str]:
        database = [] if self.database is None else ["--database", self.database]
        keepalive = []
        if self.machine_keepalive is not None:
            keepalive = ["--machine-keepalive", str(self.machine_keepalive)]
        return [
            sys.executable, "-m", "kiln.hub", "serve", "--data", str(self.data_dir),
            "--listen", self.address, "--machine-listen", f"{self.host}:{self.machine_port}",
            *database, *keepalive,
        ]  # fmt: skip

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        child = await self.spawn(self.argv, "hub output")
        try:
            async with asyncio.timeout(timeout):
                while not (
                    await api_answers(self.host, self.port)
                    and await api_answers(self.host, self.machine_port)
                    and SERVING in self.output()  # after the initial key, if any: read it
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
