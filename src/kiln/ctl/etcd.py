"""``kilnctl etcd``: the cluster's etcd, through a control-plane node.

::

    kilnctl etcd members                 every member, voting or learner
    kilnctl etcd status                  the node's member: leader, raft index, database size
    kilnctl etcd snapshot FILE           a snapshot of the cluster, saved to FILE (0600)
    kilnctl etcd remove-member NAME      drop a member that is gone for good (hostname or id)
    kilnctl etcd leave                   the node's member leaves the cluster
    kilnctl etcd forfeit-leadership      the node's member hands the leadership over
    kilnctl etcd defrag                  defragment the node's member's database
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from kiln.ctl import connect, render
from kiln.ctl.snapshot_file import save_stream
from kiln.machinery.client import Client, NodeErrors

T = TypeVar("T")
A = TypeVar("A")


@click.group("etcd")
def etcd() -> None:
    """Manage the cluster's etcd through a control-plane node."""


def _run(api: Client, work: Callable[[Client], Awaitable[T]]) -> T:
    async def act() -> T:
        async with api:
            return await work(api)

    return connect.run(act())


def _call(
    endpoints: tuple[str, ...], nodes: tuple[str, ...], work: Callable[[Client], Awaitable[T]]
) -> tuple[Client, T]:
    api = connect.client(endpoints, nodes)
    return api, _run(api, work)


def _answers(
    endpoints: tuple[str, ...],
    nodes: tuple[str, ...],
    work: Callable[[Client], Awaitable[list[A]]],
) -> tuple[Client, list[A], NodeErrors | None]:
    """What every node answered, and the failures of the others (raise them after printing)."""
    api = connect.client(endpoints, nodes)
    try:
        return api, _run(api, work), None
    except NodeErrors as err:
        return api, list(err.answered), err


@etcd.command("members")
@connect.node_options
def members(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """List the members of the cluster."""
    api, listings, failed = _answers(endpoints, nodes, lambda client: client.etcd_members())
    render.table(
        ["node", "id", "hostname", "peer urls", "client urls", "learner"],
        [
            [
                listing.metadata.node or api.node,
                f"{member.id:x}",
                member.hostname or "(not started)",
                ",".join(member.peer_urls),
                ",".join(member.client_urls) or "-",
                "yes" if member.is_learner else "no",
            ]
            for listing in listings
            for member in listing.members
        ],
    )
    if failed is not None:
        raise failed


@etcd.command("status")
@connect.node_options
def status(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Show the status of the node's member."""
    api, answers, failed = _answers(endpoints, nodes, lambda client: client.etcd_status())
    render.table(
        ["node", "member", "db size", "in use", "leader", "raft index", "raft term", "learner"],
        [
            [
                answer.metadata.node or api.node,
                f"{answer.member_status.member_id:x}",
                _size(answer.member_status.db_size),
                _size(answer.member_status.db_size_in_use),
                f"{answer.member_status.leader:x}",
                str(answer.member_status.raft_index),
                str(answer.member_status.raft_term),
                "yes" if answer.member_status.is_learner else "no",
            ]
            for answer in answers
        ],
    )
    for answer in answers:
        for error in answer.member_status.errors:
            click.echo(f"{answer.metadata.node or api.node}: etcd reports: {error}", err=True)
    if failed is not None:
        raise failed


@etcd.command("snapshot")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@connect.node_options
def snapshot(path: Path, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Save a snapshot of the cluster to PATH (replaced only once the snapshot is complete)."""
    api, size = _call(endpoints, nodes, lambda client: save_stream(client.etcd_snapshot(), path))
    click.echo(f"{api.node}: snapshot of {size} bytes saved to {path}")


@etcd.command("remove-member")
@click.argument("member")
@connect.node_options
def remove_member(member: str, endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Remove MEMBER (a hostname or hex id) that is gone for good from the cluster."""
    api, _ = _call(endpoints, nodes, lambda client: client.etcd_remove_member(member))
    click.echo(f"{api.node}: etcd member {member} removed")


@etcd.command("leave")
@connect.node_options
def leave(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Make the node's member leave the cluster (it stays out until the node reboots)."""
    api, _ = _call(endpoints, nodes, lambda client: client.etcd_leave())
    click.echo(f"{api.node}: left the etcd cluster")


@etcd.command("forfeit-leadership")
@connect.node_options
def forfeit_leadership(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Hand the leadership over to another member if the node's member leads."""
    api, answers, failed = _answers(
        endpoints, nodes, lambda client: client.etcd_forfeit_leadership()
    )
    for answer in answers:
        node = answer.metadata.node or api.node
        if answer.member:
            click.echo(f"{node}: leadership moved to {answer.member}")
        else:
            click.echo(f"{node}: not the leader; nothing to hand over")
    if failed is not None:
        raise failed


@etcd.command("defrag")
@connect.node_options
def defrag(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    """Defragment the database of the node's member (it pauses while this runs)."""
    api, _ = _call(endpoints, nodes, lambda client: client.etcd_defragment())
    click.echo(f"{api.node}: etcd database defragmented")


def _size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"
