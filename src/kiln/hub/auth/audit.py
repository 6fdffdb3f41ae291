"""The audit log: one AuditEntry resource per mutating call, refused and failed ones too.

Entry ids sort by time (``<unix ns>-<random>``), so the log lists in order.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from kiln.hub import clock
from kiln.hub.resources import AuditEntrySpec
from kiln.resources import Kind, Resource, State, cast_spec


class AuditLog:
    def __init__(self, state: State) -> None:
        self._state = state

    async def record(
        self, who: str, method: str, result: str, *, target: str = "", detail: str = ""
    ) -> None:
        entry_id = f"{time.time_ns():020d}-{secrets.token_hex(2)}"
        spec = AuditEntrySpec(
            time=clock.now(),
            who=who,
            method=method.rsplit("/", 1)[-1],
            target=target,
            result=result,
            detail=detail,
        )
        await self._state.create(Resource.new(entry_id, spec))

    async def since(self, when: datetime | None) -> list[Resource[Any]]:
        entries = await self._state.list(Kind.of(AuditEntrySpec))
        if when is None:
            return entries
        return [e for e in entries if cast_spec(e, AuditEntrySpec).spec.time >= when]
