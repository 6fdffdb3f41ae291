"""Fixtures for etcd tests: the binaries (or a skip), one etcd CA, nodes, a 3-member cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from etcd_nodes import MakeNode, Node

from kiln.machined.etcd import (
    EtcdBinaries,
    EtcdBinaryNotFoundError,
    bootstrap_new_cluster,
    join_existing_cluster,
)
from kiln.machinery.secrets import CertificateAuthority, SecretsBundle


@pytest.fixture
def binaries() -> EtcdBinaries:
    try:
        return EtcdBinaries.find()
    except EtcdBinaryNotFoundError as exc:
        pytest.skip(f"the etcd binaries are not installed: {exc}")


@pytest.fixture(scope="session")
def etcd_ca() -> CertificateAuthority:
    return SecretsBundle.generate().etcd_ca


@pytest.fixture
async def make_node(
    tmp_path: Path, etcd_ca: CertificateAuthority, binaries: EtcdBinaries
) -> AsyncIterator[MakeNode]:
    """Make nodes on demand; every one is stopped (etcd included) when the test ends."""
    nodes: list[Node] = []

    async def make(name: str) -> Node:
        node = Node(name, tmp_path / name, etcd_ca, binaries)
        await node.open()
        nodes.append(node)
        return node

    yield make
    for node in nodes:  # one by one: etcd stops at once when its peers are not stopping too
        await node.close()


@pytest.fixture
async def three_nodes(make_node: MakeNode) -> list[Node]:
    """A cluster of three voting members: n1 bootstrapped, n2 and n3 joined one by one."""
    first = await make_node("n1")
    await bootstrap_new_cluster(first.member, first.runner)
    nodes = [first]
    for name in ("n2", "n3"):
        node = await make_node(name)
        await join_existing_cluster(first.client(*nodes[1:]), node.member, node.runner)
        nodes.append(node)
    return nodes
