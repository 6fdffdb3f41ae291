"""Size-capped output logs of services, kept on disk across daemon restarts.

A service's stdout and stderr go to ``<dir>/<name>.log``. When a write would take that file past
``max_bytes`` it is renamed to ``<name>.log.1`` (replacing the previous one) and a new
``<name>.log`` begins. At most ``2 * max_bytes`` stay on disk and the newest output always
survives. A new :class:`ServiceLog` on the same directory (the daemon restarted) appends to the
files and reads what earlier runs wrote.

Bytes are stored exactly as the program wrote them. Readers see one stream through both files
and split it into lines, decoded as UTF-8 with invalid bytes replaced; only the oldest line can
be cut, where a rotation dropped its beginning. Followers are woken by the writer in-process.

Reads and writes are plain blocking file operations on the event loop: they are small (a pipe
read at a time) and go to local disk.
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from pathlib import Path

from kiln.machined.services.notifier import Notifier
from kiln.machined.services.spec import DEFAULT_LOG_MAX_BYTES

READ_BLOCK = 64 * 1024
MAX_LINE = 64 * 1024  # follow() hands out a line without its newline once it grows this long


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _pread(path: Path, offset: int, count: int) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read(count)
    except FileNotFoundError:
        return b""


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").removesuffix("\r")


class ServiceLog:
    """The output log of one service: append with :meth:`write`, read with :meth:`tail` and
    :meth:`follow`.

    Positions are offsets in one logical stream: the rotated file covers
    ``[_rotated_start, _current_start)``, the current file ``[_current_start, _end)``.
    """

    def __init__(self, directory: Path, name: str, max_bytes: int = DEFAULT_LOG_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.path = directory / f"{name}.log"
        self.rotated_path = directory / f"{name}.log.1"
        self.max_bytes = max_bytes
        self._file: io.FileIO | None = None
        self._notifier = Notifier()
        self._closed = False
        self._rotated_start = 0
        self._current_start = _size(self.rotated_path)
        self._end = self._current_start + _size(self.path)

    @property
    def size(self) -> int:
        """Bytes kept on disk, in both files."""
        return self._end - self._rotated_start

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first if it would not fit. Raises OSError (disk full...)."""
        if not data:
            return
        data = data[-self.max_bytes :]
        current = self._end - self._current_start
        if current and current + len(data) > self.max_bytes:
            self._rotate()
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = io.FileIO(self.path, "ab")
            self._closed = False
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            if not written:
                raise OSError(f"cannot write to {self.path}")
            view = view[written:]
            self._end += written
        self._notifier.notify()

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            self.path.replace(self.rotated_path)
        except FileNotFoundError:  # removed behind our back: start afresh
            self.rotated_path.unlink(missing_ok=True)
            self._current_start = self._end
        self._rotated_start = self._current_start
        self._current_start = self._end

    def close(self) -> None:
        """Close the file; followers finish once they have read everything."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._closed = True
        self._notifier.notify()

    def _read(self, start: int, end: int) -> bytes:
        start = max(start, self._rotated_start)
        end = min(end, self._end)
        chunks = []
        if start < min(end, self._current_start):
            stop = min(end, self._current_start)
            chunks.append(_pread(self.rotated_path, start - self._rotated_start, stop - start))
            start = stop
        if start < end:
            chunks.append(_pread(self.path, start - self._current_start, end - start))
        return b"".join(chunks)

    def _scan(self, lines: int | None) -> tuple[list[bytes], bytes, int]:
        """The last ``lines`` complete lines (all when None), the unfinished last line, and the
        position where that unfinished line starts."""
        end = self._end
        pos = end
        blocks: list[bytes] = []
        newlines = 0
        while pos > self._rotated_start and (lines is None or newlines <= lines):
            step = min(READ_BLOCK, pos - self._rotated_start)
            pos -= step
            block = self._read(pos, pos + step)
            blocks.append(block)
            newlines += block.count(b"\n")
        pieces = b"".join(reversed(blocks)).split(b"\n")
        partial = pieces.pop()
        if pos > self._rotated_start and pieces:
            pieces.pop(0)  # cut by where reading began
        if lines is not None:
            pieces = pieces[len(pieces) - lines :] if lines else []
        return pieces, partial, end - len(partial)

    def tail(self, lines: int | None = None) -> list[str]:
        """The last ``lines`` lines (None or negative: everything kept), the unfinished last
        line included."""
        if lines is not None and lines < 0:
            lines = None
        if lines == 0:
            return []
        complete, partial, _ = self._scan(lines)
        if partial:
            complete.append(partial)
        if lines is not None:
            complete = complete[-lines:]
        return [_decode(raw) for raw in complete]

    def follow(self, lines: int | None = 10) -> AsyncGenerator[str, None]:
        """The last ``lines`` complete lines (None or negative: all), then every new line as it
        is written, until the log is closed. Where the stream begins is fixed by this call, not
        by the first iteration. A reader too slow to keep up with two rotations skips what was
        dropped meanwhile."""
        if lines is not None and lines < 0:
            lines = None
        complete, _, pos = self._scan(lines)
        return self._follow(complete, pos)

    async def _follow(self, complete: list[bytes], pos: int) -> AsyncGenerator[str, None]:
        for raw in complete:
            yield _decode(raw)
        pending = b""
        while True:
            changed = self._notifier.changed
            if pos < self._rotated_start:
                pos, pending = self._rotated_start, b""
            if pos < self._end:
                end = self._end
                *done, pending = (pending + self._read(pos, end)).split(b"\n")
                pos = end
                if len(pending) >= MAX_LINE:
                    done.append(pending)
                    pending = b""
                for raw in done:
                    yield _decode(raw)
                continue
            if self._closed:
                if pending:
                    yield _decode(pending)
                return
            await changed.wait()
