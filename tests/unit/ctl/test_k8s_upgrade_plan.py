"""upgrade-k8s decides from the nodes' configs: control planes first with their kubelets
pinned, then every kubelet; a second run goes on where the first stopped; targets outside the
table, downgrades and skipped minors are refused before anything changes."""

from __future__ import annotations

import pytest

from kiln.ctl.errors import CliError
from kiln.ctl.k8s_upgrade import NodeVersions, Step, StepKind, check_target, patched, plan
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import SecretsBundle

CP, KUBELET = StepKind.CONTROL_PLANE, StepKind.KUBELET


def nodes(version: str = "v1.35.2") -> list[NodeVersions]:
    return [
        NodeVersions("w-1", False, version, None),
        NodeVersions("cp-1", True, version, None),
        NodeVersions("cp-2", True, version, None),
    ]


def test_control_planes_go_first_then_every_kubelet() -> None:
    assert plan(nodes(), "v1.36.0") == [
        Step("cp-1", CP),
        Step("cp-2", CP),
        Step("cp-1", KUBELET),
        Step("cp-2", KUBELET),
        Step("w-1", KUBELET),
    ]


def test_a_second_run_goes_on_where_the_first_stopped() -> None:
    halfway = [
        NodeVersions("cp-1", True, "v1.36.0", None),  # done
        NodeVersions("cp-2", True, "v1.36.0", "v1.35.2"),  # control plane done, kubelet pinned
        NodeVersions("w-1", False, "v1.35.2", None),
    ]
    assert plan(halfway, "v1.36.0") == [Step("cp-2", KUBELET), Step("w-1", KUBELET)]
    assert plan(nodes("v1.36.0"), "v1.36.0") == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("v1.36.0", None),
        ("v1.35.3", None),
        ("v1.35.1", "a downgrade to v1.35.1 is not supported"),
        ("v1.37.0", "Kubernetes v1.37.0 is not supported"),
        ("latest", "not a Kubernetes version"),
    ],
)
def test_targets_are_checked_first(target: str, message: str | None) -> None:
    if message is None:
        check_target(nodes(), target)
        return
    with pytest.raises(CliError, match=message):
        check_target(nodes(), target)


def test_one_minor_release_at_a_time() -> None:
    with pytest.raises(
        CliError, match=r"cp-1: its control plane runs v1.33.0: .* \(to v1.34 first\)"
    ):
        check_target([NodeVersions("cp-1", True, "v1.33.0", None)], "v1.35.0")


def test_configs_of_each_step() -> None:
    config = generate_configs("demo", "https://127.81.0.2:6443", SecretsBundle.generate())
    before = config.controlplane
    version = before.machine_config.cluster.kubernetes.version
    first = patched(before, CP, "v1.20.9")
    assert first.machine_config.cluster.kubernetes.version == "v1.20.9"
    assert first.machine_config.machine.kubelet.version == version  # pinned
    second = patched(first, KUBELET, "v1.20.9")
    assert second.machine_config.machine.kubelet.version is None
    assert second.machine_config.cluster.kubernetes.version == "v1.20.9"
    assert second.machine_config.cluster.ca == before.machine_config.cluster.ca  # all else kept
