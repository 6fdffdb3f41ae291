"""Snapshots: stream one out of a running cluster, and recover a new cluster from one.

A snapshot is etcd's database file as etcd's Maintenance.Snapshot call streams it (with an
integrity hash appended), the file ``etcdctl snapshot save`` writes. :func:`snapshot` saves one
to a temporary file and streams it in chunks;
:func:`recover_from_snapshot` restores one into this member's empty data directory with
``etcdutl snapshot restore`` (keys kept, membership replaced by this member alone, a new
cluster id) and starts it as a new single-member cluster. Other control-plane nodes then join
it as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from kiln import process
from kiln.machined.etcd.client import EtcdClient
from kiln.machined.etcd.config import ClusterState, EtcdMemberConfig, format_initial_cluster
from kiln.machined.etcd.datadir import DATA_DIR_MODE, has_data, is_empty
from kiln.machined.etcd.errors import EtcdCommandError, EtcdStateError
from kiln.machined.etcd.service import EtcdRunner

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
SNAPSHOT_NAME = "snapshot.db"


async def snapshot(
    client: EtcdClient,
    *,
    work_dir: str | os.PathLike[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> AsyncIterator[bytes]:
    """Stream a snapshot of the cluster, taken from ``client``'s first endpoint.

    The snapshot is saved to a temporary directory under ``work_dir`` (default: the system's
    temporary directory) and removed once the stream ends or is closed early, so iterate
    inside ``contextlib.aclosing(snapshot(...))``. Errors of the save are raised by the first
    iteration.
    """
    directory = Path(await asyncio.to_thread(tempfile.mkdtemp, "", "etcd-snapshot-", work_dir))
    try:
        path = directory / SNAPSHOT_NAME
        await client.snapshot_save(path)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()
    finally:
        await asyncio.to_thread(_remove, directory)


async def restore_snapshot(
    snapshot_path: str | os.PathLike[str],
    member: EtcdMemberConfig,
    *,
    etcdutl: str | os.PathLike[str],
    skip_hash_check: bool = False,
) -> None:
    """Restore ``snapshot_path`` into ``member``'s data directory, which must be missing or
    empty, as the data of a new cluster whose only member is ``member``.

    ``skip_hash_check`` accepts a database file copied from a data directory (it carries no
    integrity hash). The restore goes to a sibling directory first and is renamed into place,
    so a failed restore leaves no half-written data directory.
    """
    data_dir = Path(member.data_dir)
    if not is_empty(data_dir):
        raise EtcdStateError(
            f"etcd data directory {data_dir} is not empty; a snapshot is restored only into "
            "an empty one"
        )
    await asyncio.to_thread(data_dir.parent.mkdir, parents=True, exist_ok=True)
    staging = Path(
        await asyncio.to_thread(tempfile.mkdtemp, ".restore", f".{data_dir.name}.", data_dir.parent)
    )
    target = staging / "data"  # etcdutl refuses a data directory that exists
    argv = [
        os.fspath(etcdutl),
        "snapshot",
        "restore",
        os.fspath(snapshot_path),
        f"--data-dir={target}",
        f"--name={member.name}",
        f"--initial-cluster={format_initial_cluster([(member.name, member.peer_url)])}",
        f"--initial-cluster-token={member.cluster_token}",
        f"--initial-advertise-peer-urls={member.peer_url}",
        *(["--skip-hash-check"] if skip_hash_check else []),
    ]
    try:
        try:
            await process.run(argv, timeout=600.0)
        except process.ProcessError as exc:
            raise restore_error(exc) from exc
        await asyncio.to_thread(_move_into_place, target, data_dir)
    finally:
        await asyncio.to_thread(_remove, staging)
    logger.info("restored an etcd snapshot into %s for member %s", data_dir, member.name)


async def recover_from_snapshot(
    snapshot_path: str | os.PathLike[str],
    member: EtcdMemberConfig,
    runner: EtcdRunner,
    *,
    etcdutl: str | os.PathLike[str],
    skip_hash_check: bool = False,
    timeout: float = 60.0,  # noqa: ASYNC109 - the error says where it got stuck
) -> None:
    """Bootstrap a new single-member cluster from a snapshot: restore it into ``member``'s
    empty data directory (:func:`restore_snapshot`), start etcd and wait until it is healthy.
    :class:`EtcdStateError` when the data directory already holds a member's data."""
    if has_data(member.data_dir):
        raise EtcdStateError(
            f"etcd data directory {member.data_dir} already holds a member's data; "
            "recovering from a snapshot needs an empty one"
        )
    await restore_snapshot(snapshot_path, member, etcdutl=etcdutl, skip_hash_check=skip_hash_check)
    await runner.start(member.joining((), ClusterState.NEW), timeout=timeout)


def _move_into_place(restored: Path, data_dir: Path) -> None:
    if data_dir.exists():
        data_dir.rmdir()  # checked empty before the restore
    restored.chmod(DATA_DIR_MODE)
    restored.rename(data_dir)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def restore_error(exc: process.ProcessError) -> EtcdCommandError:
    """The error for a failed ``etcdutl snapshot restore``, with etcdutl's own message."""
    return EtcdCommandError(
        "snapshot restore", etcd_message(exc.stderr_tail) or exc.reason, exc.stderr_tail
    )


def etcd_message(lines: Sequence[str]) -> str:
    """etcd's own message in the tail of an etcd program's stderr: its ``Error: ...`` line,
    else the last line that is not a structured log record."""
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line.removeprefix("Error: ").strip()
    for line in reversed(lines):
        if not line.lstrip().startswith("{"):
            return line.strip()
    return ""
