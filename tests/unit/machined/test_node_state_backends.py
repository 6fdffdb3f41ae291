"""The node's state keeps durable namespaces in SQLite and the rest in memory."""

from __future__ import annotations

from pathlib import Path

from kiln.machined.state import open_node_state
from kiln.machinery.resources import MachineIdentitySpec, VersionSpec, node_registry
from kiln.machinery.resources.runtime import machine_identity, version
from kiln.resources import Kind


async def test_durable_namespaces_survive_a_reopen_and_memory_ones_do_not(tmp_path: Path) -> None:
    registry = node_registry()
    state = open_node_state(tmp_path, registry)
    identity = await state.create(machine_identity.new())
    spec = VersionSpec(tag="1", python="3", os="linux", arch="x86_64")
    await state.create(version.new(spec))
    await state.close()

    state = open_node_state(tmp_path, registry)
    (kept,) = await state.list(Kind.of(MachineIdentitySpec))
    assert kept.spec == identity.spec
    assert await state.list(Kind.of(VersionSpec)) == []
    await state.close()
