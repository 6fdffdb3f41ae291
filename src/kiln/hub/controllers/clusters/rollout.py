"""The order of a cluster's rolling update (a changed config or Kiln version reaching machines
that run): control planes first, one at a time whatever their set's maxParallelism; workers
once no control plane is behind or busy, at most each set's ``maxParallelism`` at once. A
locked machine is passed over (and holds nobody up); a machine the rollout failed at pauses
it: no other machine starts until the template changes.

Pure functions over :class:`Member` (what the lifecycle controller knows of each machine), so
the order is the same whichever hub replica runs it, and after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LOCKED = "locked: skipped by the rollout"


@dataclass(frozen=True)
class Member:
    uuid: str
    set_name: str
    control_plane: bool
    behind: bool = False  # runs, but not the cluster's current config or Kiln version
    busy: bool = False  # taking a change now: holds its slot until it runs again
    locked: bool = False
    paused: str = ""  # why the rollout stopped at this machine


@dataclass(frozen=True)
class Turns:
    """Who may start taking the change now, and why each other machine behind waits."""

    admitted: frozenset[str] = frozenset()
    waiting: Mapping[str, str] = field(default_factory=dict)
    paused: str = ""  # "machine <uuid>: <reason>" while the rollout is paused

    def allows(self, uuid: str) -> bool:
        return uuid in self.admitted


def turns(members: Iterable[Member], parallelism: Mapping[str, int]) -> Turns:
    """Whose turn it is (see the module docstring); ``parallelism`` by set name."""
    ordered = sorted(members, key=lambda m: (not m.control_plane, m.set_name, m.uuid))
    waiting: dict[str, str] = {m.uuid: LOCKED for m in ordered if m.behind and m.locked}
    candidates = [m for m in ordered if m.behind and not m.locked and not m.busy]
    stopped = next((m for m in ordered if m.paused), None)
    if stopped is not None:
        paused = f"machine {stopped.uuid}: {stopped.paused}"
        waiting.update({m.uuid: f"rollout paused: {paused}" for m in candidates})
        return Turns(frozenset(), waiting, paused)
    planes = [m for m in ordered if m.control_plane]
    admitted: set[str] = set()
    if any(m.busy for m in planes):
        busy = next(m.uuid for m in planes if m.busy)
        why = f"control planes update one at a time: {busy} first"
        waiting.update({m.uuid: why for m in candidates if m.control_plane})
    else:
        first = next((m for m in candidates if m.control_plane), None)
        if first is not None:
            admitted.add(first.uuid)
            why = f"control planes update one at a time: {first.uuid} first"
            waiting.update({m.uuid: why for m in candidates if m.control_plane and m is not first})
    planes_done = not any(m.busy or (m.behind and not m.locked) for m in planes)
    for m in candidates:
        if m.control_plane:
            continue
        if not planes_done:
            waiting[m.uuid] = "workers wait for every control plane to take the change"
            continue
        mates = [o for o in ordered if o.set_name == m.set_name]
        taking = sum(1 for o in mates if o.busy or o.uuid in admitted)
        if taking < parallelism.get(m.set_name, 1):
            admitted.add(m.uuid)
        else:
            waiting[m.uuid] = f"{m.set_name} updates are at their maxParallelism"
    return Turns(frozenset(admitted), waiting)
