"""machine.install.upgradeHealthTimeout: the deadline a slot written by an upgrade has to
become healthy, validated, applied live, and written into the new slot's boot entry."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kiln.machined.apply.modes import needing_reboot
from kiln.machined.node.os_slots import _slot_cmdline
from kiln.machinery.config import ConfigError, load_config

Doc = dict[str, Any]


def _load(document: Doc, **install: object) -> Any:
    document["machine"]["install"] = {"disk": "/dev/vda", **install}
    return load_config(yaml.safe_dump(document))


def test_the_deadline_defaults_to_five_minutes_and_goes_into_the_new_slots_entry(
    controlplane: Doc,
) -> None:
    config = _load(controlplane, extraKernelArgs=["quiet"])
    assert config.machine_config.machine.install.upgrade_health_timeout == "5m"
    assert _slot_cmdline("console=ttyS0", config) == "console=ttyS0 quiet kiln.health-timeout=300"
    config = _load(controlplane, upgradeHealthTimeout="1m30s")
    assert _slot_cmdline("ro", config).endswith(" kiln.health-timeout=90")
    assert _slot_cmdline("ro", None) == "ro kiln.health-timeout=300"


@pytest.mark.parametrize("value", ["5s", "25h", "soon", ""])
def test_an_unusable_deadline_is_refused_with_its_path(controlplane: Doc, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(controlplane, upgradeHealthTimeout=value)
    [problem] = [str(p) for p in caught.value.problems]
    assert "machine.install.upgradeHealthTimeout" in problem


def test_changing_the_deadline_applies_live_other_install_changes_need_a_reboot() -> None:
    assert needing_reboot(["machine.install.upgradeHealthTimeout"]) == []
    assert needing_reboot(["machine.install.disk", "machine.install"]) == [
        "machine.install.disk",
        "machine.install",
    ]
