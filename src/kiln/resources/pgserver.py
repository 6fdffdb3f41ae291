"""A throwaway PostgreSQL server in a directory, for tests and local trials of the shared store.

::

    async with PostgresServer(tmp_path / "pg") as server:      # initdb, then postgres
        dsn = await server.create_database("test_1")          # postgresql://kiln@127.0.0.1:PORT/test_1
        state = await PostgresState.connect(dsn, registry)

It runs Debian's server binaries (package ``postgresql``), listening on 127.0.0.1 at a free
port, with trust authentication for the user ``kiln``. PostgreSQL refuses to run as root: as
root, the server runs as the ``postgres`` system user the package creates, with its data in a
directory of that user's under the system's temporary directory (``directory`` may be one it
cannot reach), removed by :meth:`stop`. Public on purpose: the resource runtime's and the
hub's tests both use it.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from kiln import process
from kiln.errors import KilnError

USER = "kiln"
START_TIMEOUT = 60.0


class PostgresUnavailableError(KilnError):
    """The server binaries are missing or the server does not start (the message says why)."""


def server_binaries() -> Path | None:
    """The directory of the newest installed PostgreSQL server binaries, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=_major)
    return found[-1].parent if found else None


def _major(path: Path) -> int:
    version = path.parent.parent.name
    return int(version) if version.isdigit() else 0


class PostgresServer:
    """One PostgreSQL server whose data lives in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = directory
        self.durable = durable  # False: no fsync (fast; a crash of the machine loses data)
        self.port = 0
        self._home: Path | None = None  # where the data lives when the server runs as postgres
        self._databases = 0
        self._child: process.Child | None = None

    @property
    def dsn(self) -> str:
        return self.database_dsn("postgres")

    def database_dsn(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise PostgresUnavailableError(
                "no PostgreSQL server binaries under /usr/lib/postgresql "
                "(install the Debian package postgresql)"
            )
        owner = _run_as()
        if owner is not None and self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="kiln-postgres-"))
            shutil.chown(self._home, owner.pw_uid, owner.pw_gid)
        home = self._home or self.directory
        data = home / "data"
        if not data.exists():
            home.mkdir(parents=True, exist_ok=True)
            data.mkdir(mode=0o700)
            if owner is not None:
                shutil.chown(data, owner.pw_uid, owner.pw_gid)
            initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust"]
            result = await process.run(
                [*_as(owner), *initdb, "--encoding=UTF8", "--locale=C.UTF-8"], check=False
            )
            if result.returncode != 0:
                raise PostgresUnavailableError(f"initdb failed: {result.stderr.decode().strip()}")
        self.port = _free_port()
        server = [
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(home),
            "-c",
            f"fsync={'on' if self.durable else 'off'}",
            "-c",
            f"full_page_writes={'on' if self.durable else 'off'}",
        ]
        self._child = await process.spawn([*_as(owner), *server], capture_output=False)
        await self._until_ready()

    async def _until_ready(self) -> None:
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                if self._child is not None and self._child.returncode is not None:
                    raise PostgresUnavailableError(
                        f"postgres exited with {self._child.returncode} on start"
                    )
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                return

    async def new_database(self, prefix: str = "kiln") -> str:
        """Create a database no one else uses (``PREFIX_N``); its DSN."""
        self._databases += 1
        return await self.create_database(f"{prefix}_{self._databases}")

    async def create_database(self, name: str) -> str:
        """Create database ``name`` (letters, digits, underscores); its DSN."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r} is not a plain database name")
        import asyncpg

        for attempt in range(50):  # the server accepts TCP a moment before it takes logins
            try:
                connection = await asyncpg.connect(self.dsn)
                break
            except (asyncpg.CannotConnectNowError, ConnectionError):
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.database_dsn(name)

    async def kill(self) -> None:
        """SIGKILL the server (a crash); :meth:`start` brings it back on the same data."""
        if self._child is not None:
            self._child.signal_group(signal.SIGKILL)
            await self._child.wait()
            self._child = None

    async def stop(self) -> None:
        """Stop the server; its data goes too when it lived in a directory of its own."""
        if self._child is not None:
            await process.terminate(self._child)
            self._child = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def _run_as() -> pwd.struct_passwd | None:
    """The user the server runs as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailableError(
            "running as root, and there is no postgres user to run the server as "
            "(install the Debian package postgresql)"
        ) from None


def _as(owner: pwd.struct_passwd | None) -> list[str]:
    if owner is None:
        return []
    return ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--clear-groups"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
