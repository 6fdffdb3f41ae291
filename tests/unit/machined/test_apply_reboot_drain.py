"""A config that needs a reboot is stored only once the node has drained: a drain that cannot
finish leaves the old config in place and the node running."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.machined.apply.plan import ApplyRequest
from kiln.machined.apply.store import ConfigStore
from kiln.machined.errors import DrainError
from kiln.machined.events import EventBus
from kiln.machined.node.applying import ConfigApplier
from kiln.machined.node.env import Action
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.config import MachineConfig, Mode
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.drain import DrainOptions
from kiln.machinery.secrets import SecretsBundle


def configs() -> tuple[MachineConfig, bytes]:
    running = generate_configs("c", "https://127.0.0.1:6443", SecretsBundle.generate()).worker
    documents = running.to_documents()
    documents[0]["machine"].setdefault("network", {})["hostname"] = "w2"
    return running, MachineConfig.from_documents(documents).to_yaml().encode()


async def nothing(config: MachineConfig) -> None:
    del config


@pytest.mark.parametrize("drains", [True, False])
async def test_a_reboot_apply_waits_for_the_drain(tmp_path: Path, drains: bool) -> None:
    running, changed = configs()
    store = ConfigStore(tmp_path)
    store.save(running)
    asked: list[tuple[str, DrainOptions]] = []
    requested: list[Action] = []

    async def drain(action: str, options: DrainOptions) -> None:
        asked.append((action, options))
        if not drains:
            raise DrainError("the reboot did not happen: node w1 cannot be drained")

    applier = ConfigApplier(
        store=store,
        events=EventBus(),
        platform=Mode.CONTAINER,
        running=running,
        publish=nothing,
        request=lambda action, why: requested.append(action),
        drain=drain,
    )
    options = DrainOptions(timeout=42.0)  # as the client asked
    request = ApplyRequest(changed, ApplyMode.REBOOT, drain=options)
    if drains:
        await applier.apply(request)
    else:
        with pytest.raises(DrainError):
            await applier.apply(request)
    assert asked == [("reboot", options)]
    stored = store.load()
    assert stored is not None
    hostname = stored.machine_config.machine.network.hostname
    assert hostname == ("w2" if drains else running.machine_config.machine.network.hostname)
    assert requested == ([Action.REBOOT] if drains else [])
