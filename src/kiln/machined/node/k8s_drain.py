"""The node leaving Kubernetes before it goes down, and coming back after, as Talos does.

Before a reboot, shutdown, OS upgrade or graceful reset, a node whose kubelet joined and whose
Node is registered cordons its Node (annotated ``kiln.dev/cordoned-for=<action>``) and evicts
its pods (:mod:`kiln.machined.kubernetes.drain`), asking again while a PodDisruptionBudget
refuses, until every evicted pod is gone. A drain that does not finish within its timeout
uncordons the node and raises :class:`~kiln.machined.errors.DrainError`: the action does not
happen. A node that cannot drain at all (no kubelet credentials yet, the API out of reach, no
Node) goes down without, saying so in an event.

Every boot, once the kubelet has joined and said again that the Node is Ready (a heartbeat of
this boot), the node undoes a cordon it made (a user's ``kubectl cordon`` has no annotation and
stays). Every step is a ``drain`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kiln.machined.errors import DrainError, NodeStateError
from kiln.machined.events import EventBus, EventType
from kiln.machined.kubernetes import drain as evictions
from kiln.machined.kubernetes.apiclient import ApiError
from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.node.k8s_controlplane import Spawn
from kiln.machinery.drain import DrainOptions

logger = logging.getLogger(__name__)

POLL = 1.0
UNCORDON_POLL = 3.0
UNCORDON_TASK = "uncordon"


class NodeDrain:
    """Drains of the Node ``hostname``; ``api`` gives the calls as its kubelet (None while the
    kubelet has no credentials)."""

    def __init__(
        self,
        hostname: str,
        api: Callable[[], evictions.NodeApi | None],
        events: EventBus,
        *,
        poll: float = POLL,
        uncordon_poll: float = UNCORDON_POLL,
    ) -> None:
        self._hostname = hostname
        self._node_api = api
        self._events = events
        self._poll = poll
        self._uncordon_poll = uncordon_poll
        self._lock = asyncio.Lock()
        self._since = datetime.now(UTC)  # a Ready said before this boot does not count
        self._uncordon: asyncio.Task[None] | None = None
        self._left: list[str] = []  # what keeps the drain going: the error if it times out

    def start(self, spawn: Spawn) -> asyncio.Task[None]:
        """Undo Kiln's cordon once the Node is Ready (in the background)."""
        self._uncordon = spawn(self._uncordon_when_ready(), UNCORDON_TASK)
        return self._uncordon

    async def drain(self, action: str, options: DrainOptions) -> None:
        """Cordon and drain before ``action``; :class:`DrainError` when it cannot finish."""
        if options.skip:
            self._event(f"not drained before the {action}: asked not to")
            return
        if self._lock.locked():
            raise NodeStateError("the node is draining already, for another action")
        async with self._lock:
            await self._stop_uncordon()
            api = self._node_api()
            if api is None:
                self._event(f"not drained before the {action}: the kubelet has not joined")
                return
            node = await self._registered_node(api, action)
            if node is not None:
                await self._drain(api, action, node, options.timeout)

    async def _registered_node(self, api: evictions.NodeApi, action: str) -> dict[str, Any] | None:
        why = f"no Node {self._hostname} is registered"
        try:
            node = await asyncio.to_thread(api.node)
        except KubernetesError as exc:
            node, why = None, f"the Kubernetes API cannot be reached ({exc})"
        if node is None:
            self._event(f"not drained before the {action}: {why}")
        return node

    async def _drain(
        self, api: evictions.NodeApi, action: str, node: dict[str, Any], within: float
    ) -> None:
        started = time.monotonic()
        patch = evictions.cordon_patch(node, action)
        if patch is not None:
            try:
                await asyncio.to_thread(api.patch, patch)
            except KubernetesError as exc:
                message = f"the {action} did not happen: node {self._hostname} cannot be cordoned"
                self._event(f"{message}: {exc}")
                raise DrainError(f"{message}: {exc}") from None
            self._event(f"cordoned node {self._hostname} for the {action}")
        else:
            self._event(f"node {self._hostname} was cordoned by someone else: left so")
        try:
            async with asyncio.timeout(within):
                await self._evict_all(api)
        except (TimeoutError, KubernetesError) as exc:
            await self._give_up(api, action, patch is not None, within, exc)
        except asyncio.CancelledError:  # the caller went away: the action will not happen
            if patch is not None:
                with contextlib.suppress(KubernetesError):
                    await asyncio.shield(self._undo_cordon(api))
            raise
        self._event(f"node {self._hostname} drained in {time.monotonic() - started:.1f}s")

    async def _evict_all(self, api: evictions.NodeApi) -> None:
        """Evict until no pod to evict is left; ``_left`` says what remains meanwhile. An API
        that does not answer, or fails on its side, is asked again (until the timeout)."""
        progress = _Progress()
        self._left = []
        while True:
            try:
                if await self._evict_round(api, progress):
                    return
            except ApiError as exc:
                if not exc.temporary:
                    raise
                self._left = [*progress.left, f"the Kubernetes API failed: {exc}"]
            await asyncio.sleep(self._poll)

    async def _evict_round(self, api: evictions.NodeApi, progress: _Progress) -> bool:
        """One pass over the node's pods; whether none is left to evict or wait for."""
        found = evictions.plan(await asyncio.to_thread(api.pods))
        if not progress.announced:
            self._announce(found)
            progress.announced = True
        progress.left = []
        for pod in found.evict:
            if pod.terminating or pod.uid in progress.evicted:
                progress.left.append(f"{pod} is still terminating")
                continue
            refusal = await asyncio.to_thread(api.evict, pod)
            if refusal is None:
                progress.evicted.add(pod.uid)
                self._event(f"evicted pod {pod}")
                progress.left.append(f"{pod} is still terminating")
                continue
            if pod.uid not in progress.refused:
                self._event(f"eviction of pod {pod} refused for now: {refusal.why}")
                progress.refused.add(pod.uid)
            progress.left.append(f"{pod} cannot be evicted: {refusal.why}")
        self._left = progress.left
        return not found.evict

    def _announce(self, found: evictions.Plan) -> None:
        pods = ", ".join(str(pod) for pod in found.evict) or "none"
        message = f"evicting {len(found.evict)} pods: {pods}"
        if found.skipped:
            skipped = ", ".join(f"{pod} ({why.value})" for pod, why in found.skipped)
            message += f"; left: {skipped}"
        self._event(message)

    async def _give_up(
        self, api: evictions.NodeApi, action: str, cordoned: bool, within: float, exc: Exception
    ) -> None:
        if isinstance(exc, TimeoutError):
            why = f"not done in {within:g}s: " + ("; ".join(self._left) or "pods remain")
        else:
            why = str(exc)
        undone = ""
        if cordoned:
            try:
                await self._undo_cordon(api)
                undone = "; the node is uncordoned"
            except KubernetesError as err:
                undone = f"; the node stays cordoned ({err})"
        message = f"the {action} did not happen: node {self._hostname} cannot be drained, {why}"
        self._event(message + undone)
        hint = " (ask again with the drain skipped, kilnctl --no-drain, to go down anyway)"
        raise DrainError(message + undone + hint) from None

    async def _undo_cordon(self, api: evictions.NodeApi) -> None:
        node = await asyncio.to_thread(api.node)
        patch = None if node is None else evictions.uncordon_patch(node)
        if node is None or patch is None:
            return
        await asyncio.to_thread(api.patch, patch)
        why = node["metadata"]["annotations"][evictions.CORDONED_FOR]
        self._event(f"uncordoned node {self._hostname} (cordoned for the {why})")

    async def _uncordon_when_ready(self) -> None:
        while True:
            api = self._node_api()
            if api is not None:
                try:
                    node = await asyncio.to_thread(api.node)
                    if node is not None and not evictions.cordoned_by_kiln(node):
                        return
                    if node is not None and evictions.is_ready(node, self._since):
                        await self._undo_cordon(api)
                        return
                except KubernetesError as exc:
                    logger.info("uncordon waits: %s", exc)
            await asyncio.sleep(self._uncordon_poll)

    async def _stop_uncordon(self) -> None:
        task, self._uncordon = self._uncordon, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _event(self, message: str) -> None:
        logger.info("%s", message)
        self._events.publish(EventType.DRAIN, message)


@dataclass
class _Progress:
    """What one drain did so far: the pods it evicted, those refused, those left."""

    announced: bool = False
    evicted: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    left: list[str] = field(default_factory=list)
