"""What ``ListMachines`` answers from: every MachineStatus as JSON, kept in memory by one watch.

Reading thousands of resources back from the database and encoding them again for every
``kiln-hub get machines`` would cost the hub far more than keeping their JSON, which changes
only when a machine's status does.
"""

from __future__ import annotations

import asyncio
import json

from kiln.hub.resources import MachineStatusSpec
from kiln.resources import EventType, Kind, Selector, State, to_dict


class InventoryView:
    def __init__(self, state: State) -> None:
        self._state = state
        self._machines: dict[str, tuple[dict[str, str], str]] = {}  # id -> labels, JSON
        self._ready = asyncio.Event()

    async def run(self) -> None:
        """Follow MachineStatus changes until cancelled (a watch that ends is opened again)."""
        while True:
            async with self._state.watch_kind(Kind.of(MachineStatusSpec)) as watch:
                fresh: dict[str, tuple[dict[str, str], str]] = {}
                async for event in watch:
                    if event.type is EventType.BOOTSTRAPPED:
                        self._machines = fresh
                        self._ready.set()
                    elif event.type is EventType.ERRORED:
                        break
                    elif event.resource is not None:
                        target = self._machines if self._ready.is_set() else fresh
                        resource = event.resource
                        if event.type is EventType.DESTROYED:
                            target.pop(resource.id, None)
                        else:
                            text = json.dumps(to_dict(resource))
                            target[resource.id] = (dict(resource.metadata.labels), text)
            self._ready.clear()

    async def list(self, selector: str = "") -> list[str]:
        """The JSON of every machine whose labels match ``selector``, sorted by id."""
        wanted = Selector.parse(selector) if selector else None
        await self._ready.wait()
        return [
            text
            for _, (labels, text) in sorted(self._machines.items())
            if wanted is None or wanted.matches(labels)
        ]
