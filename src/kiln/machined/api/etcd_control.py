"""What the etcd methods of the API need from the node: its etcd member
(:class:`EtcdControl`), which only control-plane nodes have."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kiln.machined.etcd import EndpointStatus, Member

NOT_RUNNING = "etcd is not running on this node"
NO_MEMBER = "this node runs no etcd member: only control-plane nodes do"


class EtcdControl(Protocol):
    """This node's etcd member. Every call but :meth:`bootstrap` needs a running member and
    raises :class:`~kiln.machined.errors.NodeStateError` without one."""

    async def bootstrap(self, snapshot: bytes | None, *, skip_hash_check: bool = False) -> None:
        """A new cluster of this member, recovered from ``snapshot`` (a snapshot's bytes) if
        given; NodeStateError when it is bootstrapped already or joins a cluster."""
        ...

    async def members(self) -> list[Member]: ...

    async def remove_member(self, name_or_id: str) -> str:
        """Remove another member; the name (or hex id) of the member removed."""
        ...

    async def leave(self) -> None: ...

    async def forfeit_leadership(self) -> str:
        """The new leader's name, or "" when this member was not leading."""
        ...

    async def status(self) -> EndpointStatus: ...

    async def defragment(self) -> None: ...

    def snapshot(self) -> AsyncGenerator[bytes, None]:
        """The chunks of a snapshot of the cluster; close it when done early."""
        ...
