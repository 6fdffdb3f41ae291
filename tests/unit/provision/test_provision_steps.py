"""The step runner: order, retries until a timeout, failures naming the step and the node,
progress events, and nodes of a step run at once with the first failure stopping the rest."""

from __future__ import annotations

import asyncio

import pytest

from kiln.provision.errors import ProvisionError, StepError, StepRetry
from kiln.provision.steps import NodeStep, Progress, Runner, Status, Step


class Log:
    def __init__(self) -> None:
        self.events: list[Progress] = []
        self.calls: list[str] = []

    def __call__(self, event: Progress) -> None:
        self.events.append(event)

    def of(self, status: Status) -> list[tuple[str, str, str]]:
        return [(e.step, e.node, e.detail) for e in self.events if e.status is status]


async def test_steps_run_in_order_and_report_what_they_did() -> None:
    log = Log()

    async def first(ctx: Log) -> str:
        ctx.calls.append("first")
        return "one"

    async def second(ctx: Log) -> str:
        ctx.calls.append("second")
        return "two"

    await Runner(log, log).run([Step("first", first), Step("second", second)])
    assert log.calls == ["first", "second"]
    assert log.of(Status.DONE) == [("first", "", "one"), ("second", "", "two")]


async def test_a_step_that_asks_for_a_retry_runs_again_until_done() -> None:
    log = Log()
    attempts = []

    async def flaky(ctx: Log) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise StepRetry(f"attempt {len(attempts)}", delay=0.01)
        return "finally"

    await Runner(log, log, quiet=0).run([Step("flaky", flaky)])
    assert len(attempts) == 3
    assert log.of(Status.WAITING) == [("flaky", "", "attempt 1"), ("flaky", "", "attempt 2")]
    assert log.of(Status.DONE) == [("flaky", "", "finally")]


async def test_a_step_out_of_time_fails_with_its_last_reason() -> None:
    log = Log()

    async def never(ctx: Log) -> str:
        raise StepRetry("still nothing", delay=0.01)

    with pytest.raises(StepError) as caught:
        await Runner(log, log).run([Step("never", never, timeout=0.05)])
    assert caught.value.step == "never"
    assert "not done in 0.05s: still nothing" in str(caught.value)
    assert log.of(Status.WAITING) == []  # quiet in its first seconds
    assert [e.status for e in log.events] == [Status.RUNNING, Status.FAILED]


async def test_an_error_fails_the_step_at_once_and_later_steps_do_not_run() -> None:
    log = Log()

    async def broken(ctx: Log) -> str:
        raise ProvisionError("it broke\nsecond line")

    async def later(ctx: Log) -> str:
        ctx.calls.append("later")
        return ""

    with pytest.raises(StepError) as caught:
        await Runner(log, log).run([Step("broken", broken), Step("later", later)])
    assert caught.value.lines() == ["broken: it broke", "  second line"]
    assert log.calls == []


async def test_node_steps_run_at_once_and_the_first_failure_stops_the_others() -> None:
    log = Log()
    started: list[str] = []
    cancelled: list[str] = []

    async def work(ctx: Log, node: str) -> str:
        started.append(node)
        if node == "bad":
            await asyncio.sleep(0.01)
            raise ProvisionError("no good")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(node)
            raise
        return "slow"

    step = NodeStep("each", lambda ctx: ["a", "bad", "c"], work, str, timeout=5)
    with pytest.raises(StepError) as caught:
        await Runner(log, log).run([step])
    assert (caught.value.step, caught.value.node) == ("each", "bad")
    assert started == ["a", "bad", "c"]
    assert sorted(cancelled) == ["a", "c"]
    assert log.of(Status.FAILED) == [("each", "bad", "no good")]


async def test_a_node_step_without_nodes_does_nothing() -> None:
    log = Log()

    async def work(ctx: Log, node: str) -> str:
        raise AssertionError("not called")

    await Runner(log, log).run([NodeStep("none", lambda ctx: [], work, str)])
    assert log.events == []
