"""Ordered, named, idempotent steps and the runner that drives them, reporting progress.

A step is either cluster-wide (:class:`Step`) or runs for each of a set of nodes at once
(:class:`NodeStep`). Running a step again after it succeeded changes nothing, so a step that is
not done yet raises :class:`~kiln.provision.errors.StepRetry` and is run again after the delay
it asks for, until its timeout; the last reason then becomes the
:class:`~kiln.provision.errors.StepError`. Any :class:`~kiln.errors.KilnError` a step raises
fails it at once.

Progress goes to a callback as :class:`Progress` events; nothing here prints.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Generic, TypeVar

from kiln.errors import KilnError
from kiln.provision.errors import StepError, StepRetry

QUIET = 2.0  # what a step waits for in its first seconds is not worth reporting
C = TypeVar("C")
N = TypeVar("N")


class Status(StrEnum):
    RUNNING = "running"  # the step (or its work on a node) began
    WAITING = "waiting"  # not done yet; ``detail`` says what it waits for
    DONE = "done"  # ``detail`` says what was done
    FAILED = "failed"  # ``detail`` says why


@dataclass(frozen=True)
class Progress:
    """One event: a step (on a node, or the whole cluster when ``node`` is "") changed."""

    step: str
    status: Status
    node: str = ""
    detail: str = ""


ProgressCallback = Callable[[Progress], None]


def ignore_progress(event: Progress) -> None:
    """A callback for callers that do not show progress."""


@dataclass(frozen=True)
class Step(Generic[C]):
    """Work done once for the cluster; ``run`` returns what it did, in words."""

    name: str
    run: Callable[[C], Awaitable[str]]
    timeout: float = 60.0


@dataclass(frozen=True)
class NodeStep(Generic[C, N]):
    """Work done for each node ``nodes`` picks, concurrently; ``run`` returns what it did."""

    name: str
    nodes: Callable[[C], Sequence[N]]
    run: Callable[[C, N], Awaitable[str]]
    node_name: Callable[[N], str]
    timeout: float = 60.0


class Runner(Generic[C]):
    """Runs steps in order on ``context``, reporting progress to ``progress``."""

    def __init__(self, context: C, progress: ProgressCallback, *, quiet: float = QUIET) -> None:
        self.context = context
        self.progress = progress
        self.quiet = quiet

    async def run(self, steps: Sequence[Step[C] | NodeStep[C, Any]]) -> None:
        for step in steps:
            if isinstance(step, Step):
                await self._attempts(step.name, "", partial(step.run, self.context), step.timeout)
            else:
                await self._node_step(step)

    async def _node_step(self, step: NodeStep[C, Any]) -> None:
        """Every node at once; the first failure stops the others and fails the step."""
        tasks = []
        for node in step.nodes(self.context):
            name = step.node_name(node)
            work = self._attempts(
                step.name, name, partial(step.run, self.context, node), step.timeout
            )
            tasks.append(asyncio.create_task(work, name=f"{step.name} {name}"))
        if not tasks:
            return
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                task.result()  # raises the first failure

    async def _attempts(
        self, step: str, node: str, attempt: Callable[[], Awaitable[str]], limit: float
    ) -> None:
        self.progress(Progress(step, Status.RUNNING, node))
        started = time.monotonic()
        deadline = started + limit
        last = ""
        while True:
            try:
                done = await attempt()
            except StepRetry as retry:
                if retry.reason != last and time.monotonic() - started >= self.quiet:
                    self.progress(Progress(step, Status.WAITING, node, retry.reason))
                    last = retry.reason
                if time.monotonic() + retry.delay > deadline:
                    return self._fail(step, node, f"not done in {limit:g}s: {retry.reason}")
                await asyncio.sleep(retry.delay)
                continue
            except StepError as err:
                return self._fail(step, node, err.message)
            except KilnError as err:
                return self._fail(step, node, "\n".join(err.lines()))
            self.progress(Progress(step, Status.DONE, node, done))
            return None

    def _fail(self, step: str, node: str, message: str) -> None:
        self.progress(Progress(step, Status.FAILED, node, message.splitlines()[0]))
        raise StepError(step, message, node=node)
