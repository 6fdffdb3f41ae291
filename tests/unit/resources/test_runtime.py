"""The controller runtime: reconcile on change, declared access only, isolation and backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from resource_kinds import DoubledSpec, SwitchSpec, ThingSpec, thing

from kiln.resources import (
    Backoff,
    Controller,
    ControllerRuntime,
    InMemoryState,
    Input,
    Kind,
    OutputKind,
    OwnerConflictError,
    Phase,
    Pointer,
    ReconcileContext,
    RegistrationError,
    RequeueError,
    Resource,
)
from kiln.resources.controller import Output
from kiln.resources.testing import ControllerHarness, ManualClock

DOUBLED = Kind.of(DoubledSpec)
SWITCH = Pointer.of(SwitchSpec, "switch")


class Doubler(Controller):
    """Keeps one Doubled per running Thing, with twice its value."""

    name = "test.Doubler"

    def inputs(self) -> Sequence[Input]:
        return [Input.of(ThingSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(DoubledSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        for source in await ctx.reader.list(ThingSpec):
            if source.metadata.phase is Phase.RUNNING:
                await ctx.modify(Resource.new(source.id, DoubledSpec(value=source.spec.value * 2)))
        await ctx.cleanup_outputs(DoubledSpec)


class Flaky(Controller):
    """Fails while the switch says so."""

    name = "test.Flaky"

    def __init__(self) -> None:
        self.runs = 0

    def inputs(self) -> Sequence[Input]:
        return [Input.of(SwitchSpec, id="switch")]

    def outputs(self) -> Sequence[Output]:
        return []

    async def reconcile(self, ctx: ReconcileContext) -> None:
        self.runs += 1
        switch = await ctx.reader.find(SwitchSpec, "switch")
        if switch is not None and switch.spec.fail:
            raise RuntimeError(f"boom {self.runs}")


async def set_switch(state: InMemoryState, fail: bool) -> None:
    current = await state.get(SWITCH)
    current.spec.fail = fail
    await state.update(current)


async def test_outputs_follow_inputs() -> None:
    async with ControllerHarness(Doubler()) as harness:
        state = harness.state
        await state.create(thing("a", 2))
        out = await harness.wait_for(Pointer.of(DoubledSpec, "a"), lambda r: r.spec.value == 4)
        assert out.metadata.owner == "test.Doubler"

        source = await state.get(Pointer.of(ThingSpec, "a"))
        source.spec.value = 5
        await state.update(source)
        out = await harness.wait_for(out.pointer, lambda r: r.spec.value == 10)

        with pytest.raises(OwnerConflictError):  # nobody but the controller writes its outputs
            await state.update(out)

        await state.create(thing("b", 1))
        await harness.wait_for(Pointer.of(DoubledSpec, "b"))
        # Reconciles triggered by its own writes changed nothing: no write without a change.
        assert (await state.get(out.pointer)).version == 2
        assert harness.runtime.status("test.Doubler").reconciles >= 3


class ChangeRecorder(Controller):
    """Records what each reconcile was told had changed; fails while ``fail`` is set."""

    name = "test.ChangeRecorder"

    def __init__(self) -> None:
        self.seen: list[frozenset[Pointer] | None] = []
        self.fail = False
        self.ran = asyncio.Event()

    def inputs(self) -> Sequence[Input]:
        return [Input.of(ThingSpec)]

    def outputs(self) -> Sequence[Output]:
        return []

    async def reconcile(self, ctx: ReconcileContext) -> None:
        self.seen.append(ctx.changed)
        self.ran.set()
        if self.fail:
            raise RuntimeError("failing on purpose")

    async def runs(self, count: int, within: float = 5.0) -> None:
        """Wait until reconcile has run ``count`` times in all."""
        async with asyncio.timeout(within):
            while len(self.seen) < count:
                self.ran.clear()
                await self.ran.wait()


async def test_a_reconcile_is_told_what_changed_or_that_anything_may_have() -> None:
    recorder = ChangeRecorder()
    async with ControllerHarness(recorder, backoff=Backoff(initial=0.01, cap=0.01)) as harness:
        await recorder.runs(1)
        assert recorder.seen == [None]  # the first run: everything
        await harness.state.create(thing("a", 1))
        await recorder.runs(2)
        assert recorder.seen[1] == frozenset({Pointer.of(ThingSpec, "a")})
        recorder.fail = True
        await harness.state.create(thing("b", 1))
        await recorder.runs(3)
        recorder.fail = False
        await recorder.runs(4)
        assert recorder.seen[2] == frozenset({Pointer.of(ThingSpec, "b")})
        assert recorder.seen[3] is None  # after a failed run: anything may have changed


async def test_a_coalescing_controller_takes_a_burst_of_changes_in_one_reconcile() -> None:
    recorder = ChangeRecorder()
    recorder.coalesce = 0.3
    async with ControllerHarness(recorder) as harness:
        await recorder.runs(1)  # the first run does not wait
        for name in ("a", "b", "c"):
            await harness.state.create(thing(name, 1))
        await recorder.runs(2)
        assert recorder.seen[1] == frozenset(Pointer.of(ThingSpec, n) for n in ("a", "b", "c"))


class SkippingPoller(ChangeRecorder):
    """Polls every 5 s; a change to a Thing named "noise" does not concern it."""

    name = "test.SkippingPoller"

    async def reconcile(self, ctx: ReconcileContext) -> None:
        await super().reconcile(ctx)
        if ctx.changed is not None and all(p.id == "noise" for p in ctx.changed):
            ctx.skip()
            return
        ctx.requeue_after(5.0)


async def test_a_skipped_run_keeps_the_requeue_an_earlier_run_asked_for() -> None:
    clock = ManualClock()
    poller = SkippingPoller()
    async with ControllerHarness(poller, clock=clock) as harness:
        await poller.runs(1)
        await harness.wait_status("test.SkippingPoller", lambda s: s.next_run == 5.0)
        clock.advance(2.0)
        await harness.state.create(thing("noise", 1))  # wakes it early: it skips
        await poller.runs(2)
        status = await harness.wait_status("test.SkippingPoller", lambda s: s.next_run is not None)
        assert status.next_run == 5.0  # still due when first asked, not 5 s after the skip
        clock.advance(3.0)
        await poller.runs(3)
        assert poller.seen[2] is None  # the requeued run: anything may have changed
        await harness.state.create(thing("signal", 1))  # concerns it: a new 5 s from now
        await poller.runs(4)
        status = await harness.wait_status("test.SkippingPoller", lambda s: s.next_run == 10.0)
    assert poller.seen[1:] == [
        frozenset({Pointer.of(ThingSpec, "noise")}),
        None,
        frozenset({Pointer.of(ThingSpec, "signal")}),
    ]


async def test_stale_outputs_are_removed_once_their_finalizers_are_gone() -> None:
    async with ControllerHarness(Doubler()) as harness:
        state = harness.state
        await state.create(thing("a", 1))
        await state.create(thing("b", 2))
        await harness.wait_kind(DOUBLED, lambda found: set(found) == {"a", "b"})
        held = Pointer.of(DoubledSpec, "b")
        await state.add_finalizer(held, "user-hold")

        await state.destroy(Pointer.of(ThingSpec, "a"))
        await state.destroy(Pointer.of(ThingSpec, "b"))
        await harness.wait_kind(
            DOUBLED,
            lambda found: set(found) == {"b"} and found["b"].metadata.phase is Phase.TEARING_DOWN,
        )

        await state.remove_finalizer(held, "user-hold")
        await harness.wait_kind(DOUBLED, lambda found: not found)


async def test_a_controller_whose_watch_overflows_reopens_it_and_converges(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = InMemoryState(watch_capacity=1)  # the runtime's watches overflow on any burst
    async with ControllerHarness(Doubler(), state=state) as harness:
        await harness.wait_status("test.Doubler", lambda s: s.reconciles == 1)
        for n in range(20):
            await state.create(thing(f"t{n:02}", n))
        found = await harness.wait_kind(DOUBLED, lambda found: len(found) == 20)
    assert {r.spec.value for r in found.values()} == {2 * n for n in range(20)}
    assert any("reopening watch default/Thing" in r.getMessage() for r in caplog.records)


class Sneaky(Controller):
    name = "test.Sneaky"

    def __init__(self, action: str) -> None:
        self.action = action

    def inputs(self) -> Sequence[Input]:
        return [Input.of(ThingSpec)]

    def outputs(self) -> Sequence[Output]:
        return [Output.of(DoubledSpec)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        if self.action == "write":
            await ctx.create(Resource.new("switch", SwitchSpec()))
        else:
            await ctx.reader.get(SwitchSpec, "switch")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("write", "controller test.Sneaky cannot write config/Switch/switch: not declared"),
        ("read", "controller test.Sneaky cannot read config/Switch/switch: not declared"),
    ],
)
async def test_undeclared_access_fails_the_reconcile(action: str, message: str) -> None:
    async with ControllerHarness(Sneaky(action), clock=ManualClock()) as harness:
        status = await harness.wait_status("test.Sneaky", lambda s: s.failures == 1)
        assert status.last_error is not None and status.last_error.startswith(message)
    assert await harness.state.list(Kind.of(SwitchSpec)) == []


async def test_a_crashing_controller_is_isolated_and_retried_with_capped_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    state = InMemoryState()
    await state.create(Resource.new("switch", SwitchSpec(fail=True)))
    flaky = Flaky()
    harness = ControllerHarness(
        flaky, Doubler(), state=state, clock=clock, backoff=Backoff(initial=0.1, cap=1.0)
    )
    async with harness:
        delays = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
        for attempt, delay in enumerate(delays, start=1):
            status = await harness.wait_status(
                "test.Flaky",
                lambda s, n=attempt: s.consecutive_failures == n and s.next_run is not None,
            )
            assert status.retry_delay == delay
            assert status.next_run == pytest.approx(clock.monotonic() + delay)
            assert status.last_error == f"boom {attempt}"
            if attempt == 3:  # meanwhile, the other controller works normally
                await state.create(thing("a", 21))
                await harness.wait_for(Pointer.of(DoubledSpec, "a"), lambda r: r.spec.value == 42)
            if attempt < len(delays):
                clock.advance(delay)

        # A change during the backoff waits for the retry instead of running at once.
        await set_switch(state, fail=False)
        await state.create(thing("b", 1))
        await harness.wait_for(Pointer.of(DoubledSpec, "b"))  # the switch event was delivered
        assert flaky.runs == 7 and harness.runtime.status("test.Flaky").reconciles == 0

        clock.advance(1.0)
        status = await harness.wait_status("test.Flaky", lambda s: s.reconciles == 1)
        assert (status.consecutive_failures, status.last_error, status.next_run) == (0, None, None)
        assert status.failures == 7

        await set_switch(state, fail=True)  # success reset the backoff
        status = await harness.wait_status("test.Flaky", lambda s: s.consecutive_failures == 1)
        assert status.retry_delay == 0.1

    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 8
    assert "controller test.Flaky: reconcile failed (1 in a row), retrying in 0.1s: boom 1" in (
        failures[0].getMessage()
    )
    assert failures[0].exc_info is not None  # an unexpected error: the traceback is logged


class Poller(Controller):
    """Not ready at first (RequeueError), then polls every 5 s."""

    name = "test.Poller"

    def inputs(self) -> Sequence[Input]:
        return []

    def outputs(self) -> Sequence[Output]:
        return []

    async def reconcile(self, ctx: ReconcileContext) -> None:
        if not hasattr(self, "ready"):
            self.ready = True
            raise RequeueError(2.0, "waiting for the disk")
        ctx.requeue_after(5.0)


async def test_requeue_runs_again_after_the_delay() -> None:
    clock = ManualClock()
    async with ControllerHarness(Poller(), clock=clock) as harness:
        status = await harness.wait_status("test.Poller", lambda s: s.next_run is not None)
        assert (status.next_run, status.failures) == (2.0, 0)
        assert status.last_error == "requeue in 2s: waiting for the disk"
        clock.advance(2.0)
        status = await harness.wait_status(
            "test.Poller", lambda s: s.reconciles == 1 and s.next_run is not None
        )
        assert status.next_run == 7.0
        clock.advance(5.0)
        await harness.wait_status("test.Poller", lambda s: s.reconciles == 2)
    assert clock.sleeps == [2.0, 5.0, 5.0]


class Writer(Controller):
    def __init__(self, name: str, kind: OutputKind) -> None:
        self.name, self.kind = name, kind

    def inputs(self) -> Sequence[Input]:
        return []

    def outputs(self) -> Sequence[Output]:
        return [Output.of(DoubledSpec, self.kind)]

    async def reconcile(self, ctx: ReconcileContext) -> None:
        await ctx.modify(Resource.new(self.name, DoubledSpec()))


def test_conflicting_registrations_are_refused() -> None:
    state = InMemoryState()
    runtime = ControllerRuntime(state, [Writer("one", OutputKind.EXCLUSIVE)])
    with pytest.raises(RegistrationError, match="output Doubled is already exclusive to one"):
        runtime.register(Writer("two", OutputKind.EXCLUSIVE))
    with pytest.raises(RegistrationError, match="output Doubled is already exclusive to one"):
        runtime.register(Writer("two", OutputKind.SHARED))
    with pytest.raises(RegistrationError, match="controller one is already registered"):
        runtime.register(Writer("one", OutputKind.SHARED))

    shared = ControllerRuntime(state, [Writer("one", OutputKind.SHARED)])
    shared.register(Writer("two", OutputKind.SHARED))
    with pytest.raises(RegistrationError, match="already shared to one, two"):
        shared.register(Writer("three", OutputKind.EXCLUSIVE))
    assert shared.controllers == ["one", "two"]


async def test_shared_outputs_are_written_by_each_owner() -> None:
    writers = [Writer("one", OutputKind.SHARED), Writer("two", OutputKind.SHARED)]
    async with ControllerHarness(*writers) as harness:
        found = await harness.wait_kind(DOUBLED, lambda found: len(found) == 2)
    assert {r.metadata.owner for r in found.values()} == {"one", "two"}


async def test_ran_once_waits_for_every_controllers_first_outputs_or_failure() -> None:
    state = InMemoryState()
    await state.create(thing("a", 3))
    await state.create(Resource.new("switch", SwitchSpec(fail=True)))
    flaky = Flaky()
    async with ControllerHarness(Doubler(), flaky, state=state) as harness:
        await asyncio.wait_for(harness.runtime.ran_once(), 5)
        assert (await state.get(Pointer.of(DoubledSpec, "a"))).spec.value == 6
        assert flaky.runs >= 1
        assert harness.runtime.status("test.Flaky").last_error == "boom 1"
