"""The one way Kiln runs other programs.

Every subprocess goes through :func:`run` (run to completion, capture output) or :func:`spawn`
(long-running, output piped back). The rules:

- argv lists only, never a shell;
- a minimal, explicit environment (``PATH`` plus what the caller passes), the daemon's own
  environment only when asked with ``inherit_env=True``;
- the command is logged once at debug level; a failure is raised once, as :class:`ProcessError`,
  naming ``argv[0]``, the exit code or the signal that killed it, and the tail of stderr;
- every child leads its own session and process group, so stopping it (:func:`terminate`:
  SIGTERM, a grace period, SIGKILL) reaches the whole tree it started, and the stop finishes
  even if the caller is cancelled meanwhile.

Children are not tied to Kiln's lifetime: no parent-death signal is set. If the daemon is killed
with SIGKILL its children may outlive it (those writing to a pipe back to it usually die of
SIGPIPE soon after). The service supervisor records what it spawned in its state directory and
kills such leftovers when it starts again. A process that calls ``setsid()`` itself leaves its
group and escapes :func:`terminate`; only a cgroup could hold those.

::

    KilnError
    └── ProcessError            a program could not be run, or failed
        └── ProcessTimeoutError it ran longer than its timeout and was killed
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kiln.errors import KilnError

__all__ = [
    "DEFAULT_PATH",
    "Child",
    "Completed",
    "ProcessError",
    "ProcessTimeoutError",
    "describe_exit",
    "run",
    "signal_group",
    "spawn",
    "terminate",
]

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STDERR_TAIL_LINES = 10
DEFAULT_GRACE = 10.0


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
        text = stderr.decode("utf-8", "replace")
        self.stderr_tail = [line for line in text.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
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


def _child_env(env: Mapping[str, str] | None, inherit_env: bool) -> dict[str, str]:
    base = dict(os.environ) if inherit_env else {"PATH": DEFAULT_PATH}
    return base | dict(env or {})


async def _exec(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    inherit_env: bool,
    cwd: str | os.PathLike[str] | None,
    stdin: int,
    stdout: int,
    stderr: int,
) -> asyncio.subprocess.Process:
    if not argv:
        raise ValueError("argv must name a program")
    logger.debug("running %s", shlex.join(argv))
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=_child_env(env, inherit_env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProcessError(argv, f"could not be started: {exc.strerror or exc}") from exc


class Child:
    """A running program started by :func:`spawn`: its pid, its merged output, its exit."""

    def __init__(self, argv: Sequence[str], proc: asyncio.subprocess.Process) -> None:
        self.argv = tuple(argv)
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def output(self) -> asyncio.StreamReader | None:
        """stdout and stderr merged, or None when not captured."""
        return self._proc.stdout

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        """Wait for the program to exit; its exit code (negative: the signal that killed it)."""
        return await self._proc.wait()

    def signal_group(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the child's whole process group; False if nothing was left in it."""
        return signal_group(self.pid, sig)

    def __repr__(self) -> str:
        return f"<Child {self.argv[0]} pid={self.pid} returncode={self.returncode}>"


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


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

    Raises :class:`ProcessError` if it cannot be started. If the caller is cancelled while the
    program is being started, the program is killed before the cancellation goes on.
    """
    sink = asyncio.subprocess.PIPE if capture_output else asyncio.subprocess.DEVNULL
    err = asyncio.subprocess.STDOUT if capture_output else asyncio.subprocess.DEVNULL
    starting = asyncio.create_task(
        _exec(
            argv,
            env=env,
            inherit_env=inherit_env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=err,
        ),
        name=f"spawn {argv[0] if argv else '?'}",
    )
    try:
        proc = await asyncio.shield(starting)
    except asyncio.CancelledError:
        await asyncio.wait([starting])
        if not starting.cancelled() and starting.exception() is None:
            await terminate(Child(argv, starting.result()), grace=0)
        raise
    return Child(argv, proc)


async def _terminate(child: Child, grace: float) -> int:
    if child.returncode is None:
        child.signal_group(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await child.wait()
        except TimeoutError:
            logger.debug(
                "%s (pid %d) outlived %gs of grace; killing it", child.argv[0], child.pid, grace
            )
            child.signal_group(signal.SIGKILL)
    code = await child.wait()
    # Whatever is left of the tree goes too (the group id is freed once its last member dies).
    child.signal_group(signal.SIGKILL)
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
    proc = await _exec(
        argv,
        env=env,
        inherit_env=inherit_env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    child = Child(argv, proc)
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await proc.communicate(input)
    except TimeoutError:
        await terminate(child, grace)
        raise ProcessTimeoutError(argv, f"timed out after {timeout:g}s and was killed") from None
    except asyncio.CancelledError:
        await terminate(child, grace)
        raise
    assert proc.returncode is not None  # communicate() returns only after the exit
    if check and proc.returncode != 0:
        raise ProcessError(
            argv, describe_exit(proc.returncode), returncode=proc.returncode, stderr=stderr
        )
    return Completed(tuple(argv), proc.returncode, stdout, stderr)
