"""Records of running service processes, to clean up after a daemon that died without stopping
them.

Right after spawning, the runner writes ``<dir>/<service>.json`` with the pid, the argv and the
process start time (from ``/proc``); it removes the record once the process is gone. A daemon
killed with SIGKILL leaves records behind, and its children may still run (see
:mod:`kiln.process`). The next supervisor on the same state directory calls
:meth:`PidFiles.cleanup_stale` before it starts anything: each recorded process whose
``/proc/<pid>/cmdline`` still equals the recorded argv, and whose start time matches, is stopped
with its process group (SIGTERM, grace, SIGKILL). A pid reused by anything else is left alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiln.pids import process_alive, process_cmdline, process_start_time, stop, wait_gone

logger = logging.getLogger(__name__)

__all__ = [
    "PidFiles",
    "PidRecord",
    "process_alive",
    "process_cmdline",
    "process_start_time",
    "wait_gone",
]


@dataclass(frozen=True)
class PidRecord:
    service: str
    pid: int
    argv: tuple[str, ...]
    start_time: int | None  # clock ticks after boot, /proc/<pid>/stat field 22


class PidFiles:
    """The records in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, service: str) -> Path:
        return self.directory / f"{service}.json"

    def record(self, service: str, pid: int, argv: Sequence[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"pid": pid, "argv": list(argv), "start_time": process_start_time(pid)}
        temporary = self._path(service).with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(self._path(service))

    def remove(self, service: str) -> None:
        self._path(service).unlink(missing_ok=True)

    def records(self) -> list[PidRecord]:
        """Every readable record; unreadable ones are logged and removed."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                found.append(
                    PidRecord(
                        service=path.stem,
                        pid=int(data["pid"]),
                        argv=tuple(str(arg) for arg in data["argv"]),
                        start_time=None if data["start_time"] is None else int(data["start_time"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning("ignoring unreadable pid record %s: %s", path, exc)
                path.unlink(missing_ok=True)
        return found

    @staticmethod
    def is_ours(record: PidRecord) -> bool:
        """Whether the recorded process still runs the recorded command."""
        if process_cmdline(record.pid) != record.argv:
            return False
        return record.start_time is None or process_start_time(record.pid) == record.start_time

    async def cleanup_stale(self, grace: float = 10.0) -> list[PidRecord]:
        """Stop every recorded process that is still ours, remove all records; what was
        stopped."""
        stale = [record for record in self.records() if self.is_ours(record)]
        async with asyncio.TaskGroup() as group:
            for record in stale:
                group.create_task(self._stop(record, grace), name=f"stop stale {record.service}")
        for record in self.records():
            self.remove(record.service)
        return stale

    @staticmethod
    async def _stop(record: PidRecord, grace: float) -> None:
        logger.warning(
            "stopping %s (pid %d) left over from an earlier run", record.argv[0], record.pid
        )
        await stop(record.pid, grace, name=record.argv[0])
