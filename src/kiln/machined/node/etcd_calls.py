"""What the machine API asks of a running member, beyond its life cycle
(:class:`RunningMember`): list the members, remove another one, hand over leadership, status,
defragment, stream a snapshot; and a recovery from uploaded snapshot bytes.

Thin steps over :mod:`kiln.machined.etcd`, with the rules a node adds: a node does not remove
its own member (it leaves instead), and it is not bootstrapped while the cluster it would join
answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

from kiln.machined.errors import NodeStateError
from kiln.machined.etcd import (
    EndpointStatus,
    EtcdClient,
    EtcdError,
    EtcdMemberConfig,
    EtcdRunner,
    Member,
    forfeit_leadership,
    parse_member_id,
    recover_from_snapshot,
    remove_dead_member,
)
from kiln.machined.etcd import snapshot as take_snapshot
from kiln.machined.etcd.reports import find_member
from kiln.machined.etcd.retry import Deadline, retry_temporary
from kiln.machined.node.etcd_setup import EtcdSetup
from kiln.machinery.privatefile import PRIVATE_DIR_MODE, PRIVATE_MODE

logger = logging.getLogger(__name__)

REMOVE_TIMEOUT = 20.0  # within the client's 30 s
RETRY_FIRST = 1.0
RETRY_CAP = 5.0


class RunningMember:
    """The calls on this node's running member, mixed into the node's etcd, which provides
    :meth:`running` (a client of the member and its setup, or NodeStateError) and hears of
    membership changes through :meth:`members_changed`."""

    def running(self) -> tuple[EtcdClient, EtcdSetup]:
        raise NotImplementedError

    def members_changed(self) -> None:
        raise NotImplementedError

    async def members(self) -> list[Member]:
        client, _ = self.running()
        return await client.member_list()

    async def remove_member(self, name_or_id: str) -> str:
        client, setup = self.running()
        removed = await remove_member(client, setup.member, name_or_id)
        self.members_changed()
        return removed

    async def forfeit_leadership(self) -> str:
        client, setup = self.running()
        return await forfeit(client, setup.member)

    async def status(self) -> EndpointStatus:
        client, setup = self.running()
        return await client.status(setup.member.local_client_url)

    async def defragment(self) -> None:
        client, _ = self.running()
        await client.defragment()

    def snapshot(self) -> AsyncGenerator[bytes, None]:
        client, setup = self.running()
        return snapshot(client, setup.work_dir)


async def find_cluster(existing: EtcdClient, waiting: Callable[[], bool]) -> list[Member] | None:
    """The members of the cluster ``existing`` reaches, asked again with growing delays until
    it answers; None once ``waiting()`` is false."""
    delay = RETRY_FIRST
    log = logger.info  # the first time only: then at every try, for debugging
    while waiting():
        try:
            return await existing.member_list()
        except EtcdError as exc:
            log("no etcd cluster answers at %s yet: %s", ",".join(existing.endpoints), exc)
            log = logger.debug
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_CAP)
    return None


async def refuse_if_answering(existing: EtcdClient) -> None:
    """NodeStateError if the cluster ``existing`` reaches answers: this node joins it."""
    try:
        await existing.member_list()
    except EtcdError:
        return
    raise NodeStateError(
        f"an etcd cluster answers at {','.join(existing.endpoints)}: this node joins it by "
        "itself and needs no bootstrap"
    )


async def remove_member(client: EtcdClient, own: EtcdMemberConfig, name_or_id: str) -> str:
    """Remove another member (by name or hex id); the name (or id) of the member removed."""
    members = await client.member_list()
    me = find_member(members, peer_url=own.peer_url)
    if me is not None and (name_or_id == me.name or _same_id(name_or_id, me.id)):
        raise NodeStateError(
            f"etcd member {name_or_id} is this node's own: leave the cluster instead "
            "(kilnctl etcd leave, or a graceful reset)"
        )
    # etcd refuses membership changes for its health interval (5 s) after a member connected.
    removed = await retry_temporary(
        lambda: remove_dead_member(client, name_or_id), "remove member", Deadline(REMOVE_TIMEOUT)
    )
    return removed.name or removed.hex_id


async def forfeit(client: EtcdClient, own: EtcdMemberConfig) -> str:
    """Hand the leadership to another member if this one leads; the new leader's name, or ""
    when this member did not lead."""
    new_leader = await forfeit_leadership(client, own)
    if new_leader is None:
        return ""
    members = await client.member_list()
    found = next((m for m in members if m.id == new_leader), None)
    return found.name if found is not None and found.name else f"{new_leader:x}"


async def snapshot(client: EtcdClient, work_dir: Path) -> AsyncGenerator[bytes, None]:
    """The chunks of a snapshot of the cluster, saved in ``work_dir`` while it streams."""
    await asyncio.to_thread(_private_dir, work_dir)
    chunks = take_snapshot(client, work_dir=work_dir)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        if isinstance(chunks, AsyncGenerator):  # removes the saved snapshot at once
            await chunks.aclose()


async def recover(
    setup: EtcdSetup, runner: EtcdRunner, data: bytes, *, skip_hash_check: bool
) -> None:
    """A new single-member cluster from the snapshot ``data``, kept in a private file of the
    work directory for as long as the restore takes."""
    path = await asyncio.to_thread(_write_snapshot, setup.work_dir, data)
    try:
        await recover_from_snapshot(
            path,
            setup.member,
            runner,
            etcdutl=setup.binaries.etcdutl,
            skip_hash_check=skip_hash_check,
        )
    finally:
        await asyncio.to_thread(path.unlink, True)
    logger.info("etcd cluster recovered from a snapshot of %d bytes", len(data))


def _same_id(text: str, member_id: int) -> bool:
    try:
        return parse_member_id(text) == member_id
    except ValueError:
        return False


def _private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def _write_snapshot(work_dir: Path, data: bytes) -> Path:
    _private_dir(work_dir)
    descriptor, name = tempfile.mkstemp(dir=work_dir, prefix="recover-", suffix=".db")
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_MODE)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(name)
