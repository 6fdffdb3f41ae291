"""The daemon's own log, kept like a service's (``<state>/logs/machined.log``) so that the Logs
API serves it under the name ``machined``."""

from __future__ import annotations

import logging
from pathlib import Path

from kiln.machined.services import ServiceLog

NAME = "machined"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ServiceLogHandler(logging.Handler):
    """Writes formatted records to a :class:`ServiceLog`, which :meth:`reopen` replaces."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.log = ServiceLog(directory, NAME)
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.write((self.format(record) + "\n").encode())
        except OSError:
            self.handleError(record)

    def reopen(self) -> None:
        """After the files were removed (a reset): end followers, start a new log."""
        self.log.close()
        self.log = ServiceLog(self.directory, NAME)

    def close(self) -> None:
        self.log.close()
        super().close()
