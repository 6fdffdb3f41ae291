"""The event bus: a tail of what happened, then live events, to each subscriber."""

from __future__ import annotations

import asyncio

from kiln.machined.events import EventBus, EventType


async def test_subscribers_get_a_tail_then_live_events() -> None:
    bus = EventBus(capacity=3)
    for n in range(5):
        bus.publish(EventType.PHASE, f"old {n}")
    assert [e.message for e in bus.recent()] == ["old 2", "old 3", "old 4"]
    assert [e.message for e in bus.recent(1)] == ["old 4"]
    assert bus.recent(0) == []
    stream = bus.subscribe(tail=2)
    assert (await anext(stream)).message == "old 3"
    assert (await anext(stream)).message == "old 4"
    bus.publish(EventType.CONFIG, "new")
    event = await asyncio.wait_for(anext(stream), 1)
    assert (event.type, event.message, event.id) == (EventType.CONFIG, "new", 6)
    await stream.aclose()
