"""The one way Kiln runs other programs.

Every subprocess goes through :func:`run` (run to completion, capture output), :func:`spawn`
(long-running, output piped back) or :func:`detach` (outlives Kiln, output to a file). The
rules:

- argv lists only, never a shell;
- a minimal, explicit environment (``PATH`` plus what the caller passes), the daemon's own
  environment only when asked with ``inherit_env=True``;
- the command is logged once at debug level; a failure is raised once, as :class:`ProcessError`,
  naming ``argv[0]``, the exit code or the signal that killed it, and the tail of stderr;
- every child leads its own session and process group. When it exits, what is left of its
  group is killed; stopping it (:func:`terminate`: SIGTERM, a grace period, SIGKILL) reaches
  the whole tree, and the stop completes even if the caller is cancelled meanwhile. A detached
  program is on its own: whoever stops it later finds it by its pid (:mod:`kiln.pids`).

The exit of a child is seen through a pidfd (Linux 5.3+), not through its pipes, so a
grandchild that keeps a pipe open cannot hide the exit; such pipes are closed after
:data:`DRAIN_TIMEOUT`. Children are reaped here, one pid at a time: a future reaper of orphans
(PID 1) must not wait for any child (``waitpid(-1)``), or it would take their exit statuses.

Children are not tied to Kiln's lifetime: no parent-death signal is set. If the daemon is killed
with SIGKILL its children may outlive it (those writing to a pipe back to it usually die of
SIGPIPE soon after). The service supervisor records what it spawned and kills such leftovers
when it starts again. A process that calls ``setsid()`` itself leaves its group and escapes
:func:`terminate`; only a cgroup could hold those.

::

    KilnError
    └── ProcessError            a program could not be run, or failed
        └── ProcessTimeoutError it ran longer than its timeout and was killed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kiln.errors import KilnError

__all__ = [
    "DEFAULT_PATH",
    "DRAIN_TIMEOUT",
    "Child",
    "Completed",
    "ProcessError",
    "ProcessTimeoutError",
    "copy_output",
    "describe_exit",
    "detach",
    "drain",
    "finish_copy",
    "run",
    "signal_group",
    "spawn",
    "terminate",
]

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_GRACE = 10.0
DRAIN_TIMEOUT = 1.0  # how long output may still arrive after a program exited
STDERR_TAIL_LINES = 10
PIPE, STDOUT, DEVNULL = subprocess.PIPE, subprocess.STDOUT, subprocess.DEVNULL
_DETACHED: list[subprocess.Popen[bytes]] = []  # started by detach(), not reaped yet


def describe_exit(returncode: int) -> str:
    """``"exited with code 3"`` or, for a negative code, ``"killed by SIGKILL"``."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name}"


class ProcessError(KilnError):
    """A program could not be started, or it failed. ``str()`` is one line; :meth:`lines` adds
    the tail of its stderr."""

    def __init__(
        self,
        argv: Sequence[str],
        reason: str,
        *,
        returncode: int | None = None,
        stderr: bytes = b"",
    ) -> None:
        self.argv = tuple(argv)
        self.reason = reason
        self.returncode = returncode
        lines = stderr.decode("utf-8", "replace").splitlines()
        self.stderr_tail = [line for line in lines if line.strip()][-STDERR_TAIL_LINES:]
        message = f"{self.argv[0]} {reason}"
        if self.stderr_tail:
            message += f": {self.stderr_tail[-1].strip()}"
        super().__init__(message)

    def lines(self) -> list[str]:
        if not self.stderr_tail:
            return [str(self)]
        return [f"{self.argv[0]} {self.reason}; its stderr ended with:", *self.stderr_tail]


class ProcessTimeoutError(ProcessError):
    """A program ran longer than its timeout; it (and its process group) were killed."""


@dataclass(frozen=True)
class Completed:
    """What a finished program left: its exit code and everything it wrote."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


class Child:
    """A started program: its pid, its pipes, its exit (seen through a pidfd)."""

    def __init__(self, argv: Sequence[str], popen: subprocess.Popen[bytes]) -> None:
        self.argv = tuple(argv)
        self._popen = popen
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._transports: list[asyncio.BaseTransport] = []
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._on_exit)

    async def _attach(self, pipe: IO[bytes] | None) -> asyncio.StreamReader | None:
        if pipe is None:
            return None
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        self._transports.append(transport)
        return reader

    def _on_exit(self) -> None:
        if self._popen.poll() is None:  # not reaped yet; the pidfd stays readable
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        if not self._exited.done():
            self._exited.set_result(self._popen.returncode)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def output(self) -> asyncio.StreamReader | None:
        """stdout (with stderr merged into it, for :func:`spawn`), or None when not captured."""
        return self.stdout

    @property
    def returncode(self) -> int | None:
        """The exit code once the program has exited and been reaped; negative: a signal."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """Wait for the program to exit, however long its pipes stay open; its exit code."""
        return await asyncio.shield(self._exited)

    def signal_group(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the child's whole process group; False if nothing was left in it."""
        return signal_group(self.pid, sig)

    def close_pipes(self) -> None:
        """Close Kiln's ends of the output pipes; readers see the end of the output."""
        for transport in self._transports:
            transport.close()

    def __repr__(self) -> str:
        return f"<Child {self.argv[0]} pid={self.pid} returncode={self.returncode}>"


def _popen(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    inherit_env: bool,
    cwd: str | os.PathLike[str] | None,
    *,
    stdin: int,
    stdout: int,
    stderr: int,
) -> subprocess.Popen[bytes]:
    if not argv:
        raise ValueError("argv must name a program")
    logger.debug("running %s", shlex.join(argv))
    child_env = (dict(os.environ) if inherit_env else {"PATH": DEFAULT_PATH}) | dict(env or {})
    try:
        return subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise ProcessError(argv, f"could not be started: {exc.strerror or exc}") from exc


async def _start(argv: Sequence[str], popen: subprocess.Popen[bytes]) -> Child:
    """Wrap a started program; if that fails or is cancelled, the program is killed."""
    try:
        child = Child(argv, popen)
        child.stdout = await child._attach(popen.stdout)
        child.stderr = await child._attach(popen.stderr)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=1)  # a killed program goes at once; do not leave a zombie
        raise
    return child


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    capture_output: bool = True,
) -> Child:
    """Start a long-running program in its own process group, stdin from /dev/null and, when
    ``capture_output``, stdout and stderr merged into :attr:`Child.output`.

    Raises :class:`ProcessError` if it cannot be started. Cancelled while starting, the program
    is killed before the cancellation goes on.
    """
    sink = PIPE if capture_output else DEVNULL
    popen = _popen(
        argv,
        env,
        inherit_env,
        cwd,
        stdin=DEVNULL,
        stdout=sink,
        stderr=STDOUT if capture_output else DEVNULL,
    )
    return await _start(argv, popen)


def detach(
    argv: Sequence[str],
    *,
    output: Path,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = False,
    cwd: str | os.PathLike[str] | None = None,
) -> int:
    """Start a program that outlives the caller: its own session, stdin from /dev/null,
    stdout and stderr appended to ``output``. Returns its pid; nothing here waits for it or
    stops it (see :mod:`kiln.pids`). :class:`ProcessError` if it cannot be started.

    While the caller lives on, a detached program that exited is reaped at the next call."""
    _DETACHED[:] = [earlier for earlier in _DETACHED if earlier.poll() is None]
    with output.open("ab") as sink:
        popen = _popen(
            argv, env, inherit_env, cwd, stdin=DEVNULL, stdout=sink.fileno(), stderr=STDOUT
        )
    _DETACHED.append(popen)
    return popen.pid


async def _terminate(child: Child, grace: float) -> int:
    if child.returncode is None:
        child.signal_group(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await child.wait()
        except TimeoutError:
            logger.debug("%s (pid %d) outlived its grace of %gs", child.argv[0], child.pid, grace)
            child.signal_group(signal.SIGKILL)
    code = await child.wait()
    child.signal_group(signal.SIGKILL)  # whatever is left of the tree
    return code


async def terminate(child: Child, grace: float = DEFAULT_GRACE) -> int:
    """Stop ``child`` and its process group: SIGTERM, up to ``grace`` seconds, then SIGKILL.

    Returns its exit code. Shielded: when the caller is cancelled meanwhile, the stop still
    completes before the cancellation is raised.
    """
    stopping = asyncio.create_task(
        _terminate(child, grace), name=f"terminate {child.argv[0]} [{child.pid}]"
    )
    cancelled = False
    while True:
        try:
            code = await asyncio.shield(stopping)
        except asyncio.CancelledError:
            if stopping.done():
                raise
            cancelled = True
            continue
        break
    if cancelled:
        raise asyncio.CancelledError
    return code


async def drain(child: Child, readers: Collection[asyncio.Task[Any]]) -> None:
    """After ``child`` exited: kill what is left of its group, give ``readers`` of its pipes
    :data:`DRAIN_TIMEOUT` to reach the end of the output, then close the pipes under them."""
    child.signal_group(signal.SIGKILL)
    if not readers:
        return
    _, pending = await asyncio.wait(readers, timeout=DRAIN_TIMEOUT)
    if pending:  # someone outside the group holds a pipe open
        child.close_pipes()
        await asyncio.wait(pending)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError), pipe:
        pipe.write(data)


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    inherit_env: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - a timeout kills the program, reports it
    input: bytes | None = None,  # noqa: A002 - the name subprocess.run uses
    check: bool = True,
    grace: float = 5.0,
) -> Completed:
    """Run a program to completion and capture its stdout and stderr.

    Raises :class:`ProcessError` when it cannot start or, with ``check``, exits non-zero;
    :class:`ProcessTimeoutError` when it outlives ``timeout`` (it is then terminated with
    ``grace``). Cancelling the caller terminates the program the same way.
    """
    popen = _popen(
        argv,
        env,
        inherit_env,
        cwd,
        stdin=DEVNULL if input is None else PIPE,
        stdout=PIPE,
        stderr=PIPE,
    )
    child = await _start(argv, popen)
    assert child.stdout is not None and child.stderr is not None
    name = argv[0]
    readers = [
        asyncio.create_task(child.stdout.read(), name=f"{name} stdout"),
        asyncio.create_task(child.stderr.read(), name=f"{name} stderr"),
    ]
    tasks: list[asyncio.Task[Any]] = list(readers)
    if input is not None and popen.stdin is not None:
        feeding = asyncio.to_thread(_feed, popen.stdin, input)
        tasks.append(asyncio.create_task(feeding, name=f"{name} stdin"))
    try:
        async with asyncio.timeout(timeout):
            returncode = await child.wait()
    except TimeoutError:
        await terminate(child, grace)
        await drain(child, tasks)
        raise ProcessTimeoutError(
            argv, f"timed out after {timeout:g}s and was killed", stderr=readers[1].result()
        ) from None
    except asyncio.CancelledError:
        await terminate(child, grace)
        await drain(child, tasks)
        raise
    await drain(child, tasks)
    stdout, stderr = readers[0].result(), readers[1].result()
    if check and returncode != 0:
        raise ProcessError(argv, describe_exit(returncode), returncode=returncode, stderr=stderr)
    return Completed(tuple(argv), returncode, stdout, stderr)


async def copy_output(child: Child, path: Path) -> None:
    """Append everything ``child`` writes (stdout and stderr) to ``path`` until it exits."""
    stream = child.output
    if stream is None:
        return
    with path.open("ab") as sink:
        while chunk := await stream.read(65536):
            sink.write(chunk)
            sink.flush()


async def finish_copy(copier: asyncio.Task[None] | None) -> None:
    """Let a :func:`copy_output` task take what is still in the pipe, then end it."""
    if copier is None:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT):
            await asyncio.shield(copier)
    copier.cancel()
    await asyncio.wait({copier})
