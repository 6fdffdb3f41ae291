"""Mode checks: metal needs an install target; container ignores install and links."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kiln.machinery.config import ConfigError, ConfigProblem, Mode, load_config, validate_for_mode

Doc = dict[str, Any]
MC = "document 1 (MachineConfig)"


def load(*documents: Doc) -> Any:
    return load_config(yaml.safe_dump_all(documents), source="c.yaml")


def test_modes_are_a_closed_choice() -> None:
    assert [mode.value for mode in Mode] == ["metal", "container", "cloud"]
    assert Mode("metal") is Mode.METAL


def test_metal_without_an_install_disk_runs_from_memory(controlplane: Doc) -> None:
    assert validate_for_mode(load(controlplane), Mode.METAL) == []
    del controlplane["machine"]["install"]
    reason = "not set: the machine runs from memory and loses its state at power off"
    assert validate_for_mode(load(controlplane), Mode.METAL) == [
        ConfigProblem(MC, "machine.install.disk", reason)
    ]
    with pytest.raises(ConfigError) as caught:
        validate_for_mode(load(controlplane), Mode.METAL, strict=True)
    assert caught.value.lines() == [f"c.yaml: {MC}: machine.install.disk: {reason}"]


def test_metal_installs_the_booted_image_without_install_image(controlplane: Doc) -> None:
    del controlplane["machine"]["install"]["image"]
    assert validate_for_mode(load(controlplane), Mode.METAL, strict=True) == []


def test_container_warns_about_what_does_not_apply(controlplane: Doc, hub_join: Doc) -> None:
    config = load(hub_join, controlplane)  # labels follow the file: the MachineConfig is second
    label = "document 2 (MachineConfig)"
    assert validate_for_mode(config, Mode.CONTAINER) == [
        ConfigProblem(
            label,
            "machine.network.interfaces",
            "do not apply in container mode (the container runtime owns the links)",
        ),
    ]
    with pytest.raises(ConfigError) as caught:
        validate_for_mode(config, Mode.CONTAINER, strict=True)
    assert len(caught.value.problems) == 1


def test_container_without_install_or_links_is_clean(controlplane: Doc) -> None:
    del controlplane["machine"]["install"]
    del controlplane["machine"]["network"]["interfaces"]
    assert validate_for_mode(load(controlplane), Mode.CONTAINER, strict=True) == []


def test_cloud_needs_no_install_disk(controlplane: Doc) -> None:
    del controlplane["machine"]["install"]
    assert validate_for_mode(load(controlplane), Mode.CLOUD, strict=True) == []
