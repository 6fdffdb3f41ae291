"""Planning an apply: validation with every problem, cluster checks, worker configs, the diff."""

from __future__ import annotations

import pytest

from kiln.machined.apply.diff import config_diff
from kiln.machined.apply.modes import Action
from kiln.machined.apply.plan import ApplyRequest, plan
from kiln.machined.errors import ConfigRefusedError
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.config import ConfigError, MachineConfig, Mode
from kiln.machinery.config.generate import GeneratedConfigs, generate_configs
from kiln.machinery.secrets import SecretsBundle


@pytest.fixture(scope="module")
def configs() -> GeneratedConfigs:
    return generate_configs("unit", "https://127.0.0.1:6443", SecretsBundle.generate())


def with_hostname(config: MachineConfig, name: str) -> MachineConfig:
    documents = config.to_documents()
    documents[0]["machine"].setdefault("network", {})["hostname"] = name
    return MachineConfig.from_documents(documents)


def request(config: MachineConfig | str, mode: ApplyMode = ApplyMode.AUTO) -> ApplyRequest:
    text = config if isinstance(config, str) else config.to_yaml()
    return ApplyRequest(text.encode(), mode)


def test_every_problem_of_an_invalid_config_is_reported(configs: GeneratedConfigs) -> None:
    text = configs.controlplane.to_yaml().replace("type: controlplane", "type: banana")
    text = text.replace("name: unit", "name: UPPER CASE")
    with pytest.raises(ConfigError) as invalid:
        plan(request(text), running=configs.controlplane, platform=Mode.CONTAINER)
    lines = invalid.value.lines()
    assert len(lines) == 2
    assert any("machine.type" in line for line in lines)
    assert any("cluster.name" in line for line in lines)


def test_a_config_of_another_cluster_is_refused_unless_in_maintenance(
    configs: GeneratedConfigs,
) -> None:
    other = generate_configs("other", "https://127.0.0.1:6443", SecretsBundle.generate())
    with pytest.raises(ConfigRefusedError, match="another cluster"):
        plan(request(other.controlplane), running=configs.controlplane, platform=Mode.CONTAINER)
    planned = plan(request(other.controlplane), running=None, platform=Mode.CONTAINER)
    assert planned.decision.action is Action.BOOT


def test_a_worker_config_is_taken_in_maintenance_mode(configs: GeneratedConfigs) -> None:
    planned = plan(request(configs.worker), running=None, platform=Mode.CONTAINER)
    assert planned.decision.action is Action.BOOT
    assert planned.config.machine_config.machine.ca.key is None


def test_container_mode_warnings_are_returned(configs: GeneratedConfigs) -> None:
    documents = configs.controlplane.to_documents()
    documents[0]["machine"]["network"] = {"interfaces": [{"name": "eth0", "dhcp": True}]}
    config = MachineConfig.from_documents(documents)
    planned = plan(request(config), running=None, platform=Mode.CONTAINER)
    assert any("machine.network.interfaces" in warning for warning in planned.warnings)


def test_a_live_change_has_a_redacted_diff(configs: GeneratedConfigs) -> None:
    new = with_hostname(configs.controlplane, "renamed")
    planned = plan(request(new), running=configs.controlplane, platform=Mode.CONTAINER)
    assert planned.decision.action is Action.LIVE
    assert "+    hostname: renamed" in planned.diff
    secret = configs.controlplane.machine_config.machine.ca.key
    assert secret is not None and secret not in planned.diff


def test_a_diff_hides_secrets_even_when_only_a_secret_changed(configs: GeneratedConfigs) -> None:
    documents = configs.controlplane.to_documents()
    documents[0]["machine"]["token"] = "a-completely-new-token"
    new = MachineConfig.from_documents(documents)
    assert config_diff(configs.controlplane, new) == ""
    assert config_diff(configs.controlplane, configs.controlplane) == ""
