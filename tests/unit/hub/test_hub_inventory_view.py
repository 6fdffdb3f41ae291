"""The in-memory view `kiln-hub get machines` answers from: a kept answer never outlives a
change to a machine's status."""

from __future__ import annotations

import asyncio
import json

from kiln.hub.api.inventory_view import InventoryView
from kiln.hub.resources import MachineStatusSpec
from kiln.resources import InMemoryState, Pointer, Resource


def ids(answer: list[str]) -> list[str]:
    return [json.loads(text)["metadata"]["id"] for text in answer]


async def until(view: InventoryView, selector: str, wanted: list[str]) -> None:
    async with asyncio.timeout(5):
        while ids(await view.list(selector)) != wanted:  # noqa: ASYNC110 - as a client polls
            await asyncio.sleep(0.01)


async def test_answers_follow_every_change_of_status_and_labels() -> None:
    state = InMemoryState()
    view = InventoryView(state)
    follower = asyncio.create_task(view.run())
    try:
        await state.create(Resource.new("m2", MachineStatusSpec(), labels={"pool": "a"}))
        await until(view, "", ["m2"])
        await until(view, "pool=a", ["m2"])  # kept now, for this selector
        await state.create(Resource.new("m1", MachineStatusSpec(), labels={"pool": "b"}))
        await until(view, "", ["m1", "m2"])
        await until(view, "pool=a", ["m2"])
        found = await state.get(Pointer.of(MachineStatusSpec, "m1"))
        found.metadata.labels["pool"] = "a"
        await state.update(found)
        await until(view, "pool=a", ["m1", "m2"])
        await state.teardown(found.pointer)
        await state.destroy(found.pointer)
        await until(view, "pool=a", ["m2"])
    finally:
        follower.cancel()
