"""Which mode an apply resolves to, from what changed and whether the node has a config."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.machined.apply.modes import (
    DEFAULT_TRY_TIMEOUT,
    Action,
    changed_paths,
    decide,
    needing_reboot,
)
from kiln.machined.errors import ConfigRefusedError
from kiln.machinery.applymode import ApplyMode

OLD: list[dict[str, Any]] = [
    {
        "kind": "MachineConfig",
        "machine": {"type": "controlplane", "network": {"hostname": "a"}, "certSANs": ["x"]},
        "cluster": {"name": "c"},
    }
]


def with_machine(**changes: object) -> list[dict[str, Any]]:
    machine = {**OLD[0]["machine"], **changes}
    return [{**OLD[0], "machine": machine}]


def test_changed_paths_are_the_deepest_keys_that_differ() -> None:
    new = with_machine(network={"hostname": "b"}, certSANs=["x", "y"])
    assert changed_paths(OLD, new) == ["machine.network.hostname", "machine.certSANs"]
    assert changed_paths(OLD, OLD) == []
    assert changed_paths(None, OLD) == ["MachineConfig"]
    hub: list[dict[str, Any]] = [*OLD, {"kind": "HubJoinConfig", "url": "https://hub"}]
    assert changed_paths(OLD, hub) == ["HubJoinConfig"]


def test_identity_and_pki_changes_need_a_reboot() -> None:
    paths = ["machine.network.hostname", "machine.certSANs", "cluster.ca.crt", "cluster.name"]
    assert needing_reboot(paths) == ["machine.certSANs", "cluster.ca.crt"]
    assert needing_reboot(["machine.cartoon"]) == []  # a prefix of a word is not a match


def test_a_kubernetes_version_is_upgraded_live_its_source_changed_at_boot() -> None:
    paths = ["cluster.kubernetes.version", "machine.kubelet.version"]
    assert needing_reboot(paths) == []
    assert needing_reboot(["cluster.kubernetes.artifacts.path"]) == [
        "cluster.kubernetes.artifacts.path"
    ]


@pytest.mark.parametrize(
    ("requested", "changed", "mode", "action"),
    [
        (ApplyMode.AUTO, ["machine.network.hostname"], ApplyMode.NO_REBOOT, Action.LIVE),
        (ApplyMode.AUTO, ["machine.ca.crt"], ApplyMode.REBOOT, Action.REBOOT),
        (ApplyMode.AUTO, [], ApplyMode.AUTO, Action.LIVE),
        (ApplyMode.NO_REBOOT, ["machine.files"], ApplyMode.NO_REBOOT, Action.LIVE),
        (ApplyMode.REBOOT, ["machine.files"], ApplyMode.REBOOT, Action.REBOOT),
        (ApplyMode.REBOOT, [], ApplyMode.REBOOT, Action.REBOOT),
        (ApplyMode.STAGED, ["machine.ca.crt"], ApplyMode.STAGED, Action.STAGE),
        (ApplyMode.STAGED, [], ApplyMode.STAGED, Action.STAGE),
        (ApplyMode.TRY, ["machine.sysctls"], ApplyMode.TRY, Action.TRY),
    ],
)
def test_configured_node(
    requested: ApplyMode, changed: list[str], mode: ApplyMode, action: Action
) -> None:
    decision = decide(requested, maintenance=False, changed=changed)
    assert (decision.mode, decision.action) == (mode, action)


@pytest.mark.parametrize("requested", [ApplyMode.NO_REBOOT, ApplyMode.TRY])
def test_modes_that_cannot_reboot_refuse_changes_that_need_one(requested: ApplyMode) -> None:
    with pytest.raises(ConfigRefusedError, match=r"machine\.certSANs"):
        decide(requested, maintenance=False, changed=["machine.certSANs"])


def test_try_timeout_defaults_and_is_kept() -> None:
    changed = ["machine.sysctls"]
    assert decide(ApplyMode.TRY, maintenance=False, changed=changed).try_timeout == (
        DEFAULT_TRY_TIMEOUT
    )
    assert decide(ApplyMode.TRY, maintenance=False, changed=changed, try_timeout=5).try_timeout == 5


@pytest.mark.parametrize("requested", [ApplyMode.AUTO, ApplyMode.NO_REBOOT, ApplyMode.REBOOT])
def test_maintenance_mode_boots_with_the_config(requested: ApplyMode) -> None:
    decision = decide(requested, maintenance=True, changed=["MachineConfig"])
    assert decision.action is Action.BOOT


@pytest.mark.parametrize("requested", [ApplyMode.STAGED, ApplyMode.TRY])
def test_maintenance_mode_refuses_staged_and_try(requested: ApplyMode) -> None:
    with pytest.raises(ConfigRefusedError, match="maintenance"):
        decide(requested, maintenance=True, changed=["MachineConfig"])
