"""This control-plane node's etcd member through one boot: prepared, waiting, joined or
bootstrapped, running, left.

::

    PREPARING ──▶ WAITING ──Bootstrap──▶ BOOTSTRAPPING ──▶ RUNNING ──leave──▶ LEAVING ──▶ LEFT
        │            │   (fails: back to WAITING)            ▲
        │            └──a cluster answers──▶ STARTING ───────┘
        ├──data on disk──────────────────────▶ STARTING
        └──no programs or certificates──▶ FAILED

With data in its directory (an earlier boot, a kill -9) the member starts from it:
:func:`~kiln.machined.etcd.join_existing_cluster` restarts it, promotes it if it was still a
learner, or joins again if the cluster removed it meanwhile. Without data it waits for a
Bootstrap call, or finds the cluster through the control-plane endpoint
(:mod:`~kiln.machined.node.etcd_setup`) and joins it by itself: added as a learner, started,
promoted. Failures are logged and tried again with growing delays.

While the member waits, the etcd service is loaded as one that waits for what is missing,
so ``kilnctl services`` and the machine's readiness say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from typing import Any

from kiln.machined.api.etcd_control import NOT_RUNNING
from kiln.machined.errors import NodeStateError
from kiln.machined.etcd import (
    EtcdClient,
    EtcdError,
    Member,
    SupervisedEtcd,
    bootstrap_new_cluster,
    has_data,
    join_existing_cluster,
    leave_cluster,
    start_member,
    wipe_data_dir,
)
from kiln.machined.etcd.lifecycle import client_urls
from kiln.machined.node import etcd_calls
from kiln.machined.node.etcd_publish import EtcdMemberPublisher
from kiln.machined.node.etcd_setup import EtcdSetup, remove_leftovers, waiting_spec
from kiln.machined.services import Supervisor

logger = logging.getLogger(__name__)

TASK_NAME = "etcd member"
MEMBERS_TASK = "etcd members"
JOIN_TIMEOUT = 120.0
HEALTH_INTERVAL = 2.0  # a quick local status request; the machine's readiness follows it
LEAVE_TIMEOUT = 25.0  # within the client's 30 s: a graceful reset answers with the error
PREPARE_WAIT = 20.0  # a Bootstrap right after the config was applied waits this long for it

Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class EtcdStage(StrEnum):
    PREPARING = "preparing"  # finding the programs, issuing the certificates
    WAITING = "waiting"  # no data: for a bootstrap, or for a cluster to answer
    STARTING = "starting"  # starting from its data, or joining the cluster found
    BOOTSTRAPPING = "bootstrapping"  # a new cluster (or one from a snapshot), through the API
    RUNNING = "running"
    LEAVING = "leaving"
    LEFT = "left"  # left the cluster in this boot; a reboot joins it again
    FAILED = "failed"  # cannot run: the reason is in ``failure``


class NodeEtcd(etcd_calls.RunningMember):
    """The node's etcd member (see the module docstring). ``prepare`` is blocking (it issues
    certificates) and runs in a thread; background work runs in tasks made by ``spawn``."""

    def __init__(
        self,
        prepare: Callable[[], EtcdSetup],
        supervisor: Supervisor,
        spawn: Spawn,
        publisher: EtcdMemberPublisher,
    ) -> None:
        self._prepare = prepare
        self._supervisor = supervisor
        self._spawn = spawn
        self._publisher = publisher
        self._members_changed = asyncio.Event()
        self._following: asyncio.Task[None] | None = None
        self._operations: set[asyncio.Task[None]] = set()
        self.stage = EtcdStage.PREPARING
        self._prepared = asyncio.Event()
        self.failure = ""
        self._setup: EtcdSetup | None = None
        self._task: asyncio.Task[None] | None = None

    # Life of the boot ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._show_waiting("its certificates")
        self._task = self._spawn(self._run(), TASK_NAME)

    async def close(self) -> None:
        """Stop the background work (the supervisor stops etcd itself)."""
        await self._stop_task()
        await self._stop_following()
        for task in list(self._operations):
            await _cancel(task)

    async def _run(self) -> None:
        try:
            setup = await asyncio.to_thread(self._prepare)
        except EtcdError as exc:
            self.failure = str(exc)
            self._set_stage(EtcdStage.FAILED)
            logger.error("etcd cannot run on this node: %s", exc)
            await self._show_waiting(f"what etcd lacks ({exc})")
            return
        self._setup = setup
        runner = self._runner()
        await asyncio.to_thread(remove_leftovers, setup)
        if not has_data(setup.member.data_dir):
            await self._wait_for_cluster()
            return
        self._set_stage(EtcdStage.STARTING)
        if setup.discovery_url is None:  # the node the others find: it bootstrapped the cluster
            await self._until_running(lambda: start_member(setup.member, runner))
        else:
            await self._join(self._client(setup.discovery_url))

    async def _wait_for_cluster(self) -> None:
        setup = self._ready()
        self._set_stage(EtcdStage.WAITING)
        found = f" or the etcd cluster at {setup.discovery_url}" if setup.discovery_url else ""
        await self._show_waiting(f"a bootstrap (kilnctl bootstrap){found}")
        if setup.discovery_url is None:
            return  # the node the others find: it waits for Bootstrap
        existing = self._client(setup.discovery_url)
        members = await etcd_calls.find_cluster(existing, lambda: self.stage is EtcdStage.WAITING)
        if members is None or self.stage is not EtcdStage.WAITING:
            return  # bootstrapped meanwhile
        self.stage = EtcdStage.STARTING
        voting = [m for m in members if m.voting and m.started]
        logger.info("found the etcd cluster at %s: joining it", setup.discovery_url)
        await self._join(existing.with_endpoints(client_urls(voting) or [setup.discovery_url]))

    async def _join(self, existing: EtcdClient) -> None:
        """Join (or start again in) the cluster ``existing`` reaches."""
        setup, runner = self._ready(), self._runner()
        await self._until_running(
            lambda: join_existing_cluster(existing, setup.member, runner, timeout=JOIN_TIMEOUT)
        )

    async def _until_running(self, start: Callable[[], Awaitable[object]]) -> None:
        """``await start()`` until it succeeds, with growing delays between attempts."""
        name = self._ready().member.name
        delay = etcd_calls.RETRY_FIRST
        while True:
            try:
                await start()
            except EtcdError as exc:
                logger.warning("etcd member %s: %s; trying again in %gs", name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, etcd_calls.RETRY_CAP)
                continue
            self._now_running()
            logger.info("etcd member %s runs", name)
            return

    # Bootstrap and leave ------------------------------------------------------------------------

    async def bootstrap(self, snapshot: bytes | None, *, skip_hash_check: bool = False) -> None:
        """Make a new cluster of this member (from ``snapshot``, the bytes of one, if given).
        Called while the member is still being prepared, it waits for that first; once asked,
        it runs to its end even if the caller goes away."""
        await self._shielded(self._checked_bootstrap(snapshot, skip_hash_check), "etcd bootstrap")

    async def _checked_bootstrap(self, snapshot: bytes | None, skip_hash_check: bool) -> None:
        if self.stage is EtcdStage.PREPARING:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._prepared.wait(), PREPARE_WAIT)
        setup = self._ready()
        if has_data(setup.member.data_dir) or self.stage is not EtcdStage.WAITING:
            raise NodeStateError(self._why_no_bootstrap())
        if setup.discovery_url is not None:
            await etcd_calls.refuse_if_answering(self._client(setup.discovery_url))
            if self.stage is not EtcdStage.WAITING:
                raise NodeStateError(self._why_no_bootstrap())
        self.stage = EtcdStage.BOOTSTRAPPING
        await self._bootstrap(setup, snapshot, skip_hash_check)

    async def _bootstrap(self, setup: EtcdSetup, snapshot: bytes | None, skip: bool) -> None:
        await self._stop_task()
        runner = self._runner()
        try:
            await wipe_data_dir(setup.member.data_dir)  # what a failed start may have left
            if snapshot is None:
                await bootstrap_new_cluster(setup.member, runner)
            else:
                await etcd_calls.recover(setup, runner, snapshot, skip_hash_check=skip)
        except (EtcdError, OSError):
            await runner.stop()
            await wipe_data_dir(setup.member.data_dir)
            self._task = self._spawn(self._wait_for_cluster(), TASK_NAME)
            raise
        self._now_running()
        logger.info("etcd cluster bootstrapped with member %s", setup.member.name)

    def _why_no_bootstrap(self) -> str:
        if self.stage is EtcdStage.STARTING and not has_data(self._ready().member.data_dir):
            return f"this node is joining the etcd cluster at {self._ready().discovery_url}"
        if self.stage is EtcdStage.BOOTSTRAPPING:
            return "etcd is being bootstrapped on this node already"
        return "etcd is already bootstrapped on this node"

    async def leave(self) -> None:
        """Leave the cluster gracefully; etcd stays stopped until the next boot."""
        client, setup = self.running()
        self.stage = EtcdStage.LEAVING
        await self._shielded(self._leave(client, setup), "etcd leave")

    async def _leave(self, client: EtcdClient, setup: EtcdSetup) -> None:
        await self._stop_following()
        try:
            await leave_cluster(client, setup.member, self._runner(), timeout=LEAVE_TIMEOUT)
        except Exception:  # still a member (a cancellation ends the boot anyway)
            self._now_running()
            raise
        self.stage = EtcdStage.LEFT
        await self._publisher.publish([])
        await self._show_waiting("a reboot (this member left the etcd cluster)")

    async def leave_for_reset(self) -> None:
        """Before a graceful reset: leave if a member runs here; nothing to do without one."""
        if self.stage is EtcdStage.RUNNING:
            await self.leave()
        elif self.stage in (EtcdStage.STARTING, EtcdStage.BOOTSTRAPPING, EtcdStage.LEAVING):
            raise NodeStateError(
                f"etcd is {self.stage.value} on this node: reset again once it runs, or "
                "without leaving etcd (kilnctl reset --no-graceful)"
            )

    # Calls on the running member (and the calls of RunningMember) -----------------------------

    def running(self) -> tuple[EtcdClient, EtcdSetup]:
        """A client of this node's running member and its setup; NodeStateError otherwise."""
        if self.stage is not EtcdStage.RUNNING or self._setup is None:
            raise NodeStateError(NOT_RUNNING)
        return self._client(self._setup.member.local_client_url), self._setup

    def members_changed(self) -> None:
        self._members_changed.set()

    async def setup(self) -> EtcdSetup:
        """The member's setup once prepared (the Kubernetes control plane uses its address and
        client certificates); NodeStateError if etcd cannot run here."""
        await self._prepared.wait()
        return self._ready()

    # Plumbing -----------------------------------------------------------------------------------

    def _set_stage(self, stage: EtcdStage) -> None:
        self.stage = stage
        if stage is not EtcdStage.PREPARING:
            self._prepared.set()

    def _ready(self) -> EtcdSetup:
        if self._setup is None:
            if self.stage is EtcdStage.FAILED:
                raise NodeStateError(f"etcd cannot run on this node: {self.failure}")
            raise NodeStateError("etcd is being prepared on this node; try again in a moment")
        return self._setup

    def _runner(self) -> SupervisedEtcd:
        """This node's etcd under the supervisor (it keeps no state of its own)."""
        return SupervisedEtcd(
            self._supervisor, self._ready().binaries, health_interval=HEALTH_INTERVAL
        )

    def _client(self, endpoint: str) -> EtcdClient:
        setup = self._ready()
        return EtcdClient([endpoint], setup.member.certs.client_tls())

    def _now_running(self) -> None:
        self.stage = EtcdStage.RUNNING
        if self._following is None or self._following.done():
            self._following = self._spawn(
                self._publisher.follow(self._listed, self._members_changed), MEMBERS_TASK
            )

    async def _listed(self) -> list[Member] | None:
        if self.stage is not EtcdStage.RUNNING or self._setup is None:
            return None
        return await self._client(self._setup.member.local_client_url).member_list()

    async def _stop_following(self) -> None:
        task, self._following = self._following, None
        await _cancel(task)

    async def _shielded(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` to its end even if the caller goes away: a bootstrap or a leave cut
        short would leave the member in between. Its error is the caller's."""
        task = asyncio.create_task(work, name=name)
        self._operations.add(task)
        task.add_done_callback(self._operation_done)
        await asyncio.shield(task)

    def _operation_done(self, task: asyncio.Task[None]) -> None:
        self._operations.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.info("%s failed: %s", task.get_name(), exc)  # raised to its caller too

    async def _stop_task(self) -> None:
        task, self._task = self._task, None
        await _cancel(task)

    async def _show_waiting(self, what: str) -> None:
        """Load the etcd service as one that waits for ``what`` (it never starts as such)."""
        await self._supervisor.replace(waiting_spec(what))


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (unless it is the one running this) and wait until it ends."""
    if task is not None and not task.done() and task is not asyncio.current_task():
        task.cancel()
        await asyncio.wait({task})
