"""Cluster templates: a valid one reads into its model; an invalid one is refused with every
problem, each naming its document and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.hub.errors import TemplateError
from kiln.hub.templates.configs import MachinePlace, machine_config
from kiln.hub.templates.load import load_template
from kiln.machinery.config.model import MachineType
from kiln.machinery.secrets import SecretsBundle

VALID = """\
kind: Cluster
name: demo
kubernetes: {version: v1.32.0}
patches:
  - name: cluster-label
    inline: {machine: {kubelet: {nodeLabels: {layer: cluster, tier: a}}}}
---
kind: ControlPlane
machines: [m-1]
---
kind: Workers
name: edge
machineSelector: {selector: "rack=r1", count: 2}
updateStrategy: {maxParallelism: 2}
patches:
  - file: edge.yaml
---
kind: Machine
uuid: m-1
install: {disk: /dev/vdb}
patches:
  - inline: [{op: replace, path: /machine/kubelet/nodeLabels/layer, value: machine}]
"""


def test_a_valid_template_layers_patches_cluster_then_set_then_machine(tmp_path: Path) -> None:
    (tmp_path / "edge.yaml").write_text("machine: {kubelet: {nodeLabels: {tier: edge}}}\n")
    template = load_template(VALID, "cluster.yaml", base=tmp_path)
    assert [s.set_name for s in template.machine_sets()] == ["control-planes", "edge"]
    assert template.workers[0].update_strategy.max_parallelism == 2
    secrets = SecretsBundle.generate()
    endpoint = "https://192.0.2.10:6443"
    plane = machine_config(
        template,
        secrets,
        endpoint,
        MachinePlace("m-1", "control-planes", MachineType.CONTROLPLANE, "192.0.2.10"),
    )
    machine = plane.machine_config.machine
    assert machine.kubelet.node_labels == {"layer": "machine", "tier": "a"}
    assert machine.install.disk == "/dev/vdb"
    assert "192.0.2.10" in machine.cert_sans
    worker = machine_config(
        template, secrets, endpoint, MachinePlace("w-9", "edge", MachineType.WORKER, "192.0.2.11")
    )
    assert worker.machine_config.machine.kubelet.node_labels == {"layer": "cluster", "tier": "edge"}


def test_the_hub_refuses_a_patch_file_it_cannot_read() -> None:
    with pytest.raises(TemplateError) as refused:
        load_template(VALID, "cluster.yaml")
    assert refused.value.lines() == [
        "cluster.yaml: document 3 (Workers): patches[0].file: the client reads patch files; "
        "send them inline"
    ]


def test_every_problem_is_listed_with_its_document_and_path() -> None:
    text = """\
kind: Cluster
name: Demo
kubernetes: {version: v9}
patches: [{name: gone, inline: [{op: remove, path: /machine/nope}]}]
---
kind: ControlPlane
machines: [a, a]
updateStrategy: {maxParallelism: 0}
---
kind: Workers
machineSelector: {selector: "x in (", count: 1}
---
kind: Workers
machines: [b]
---
kind: Machine
uuid: b
install: {disk: sda}
---
kind: Nodes
"""
    with pytest.raises(TemplateError) as refused:
        load_template(text, "bad.yaml")
    lines = refused.value.lines()
    expected = [
        "document 1 (Cluster): name: ",
        "document 2 (ControlPlane): machines: a machine is listed twice",
        "document 2 (ControlPlane): updateStrategy.maxParallelism: must be at least 1",
        "document 3 (Workers): machineSelector.selector: invalid label selector",
        "document 5 (Machine): install.disk: ",
        "document 6 (Nodes): kind: expected one of Cluster, ControlPlane, Workers, Machine",
    ]
    for start in expected:
        assert any(line.startswith(f"bad.yaml: {start}") for line in lines), (start, lines)
    assert len(lines) == len(expected), lines


def test_patches_and_versions_are_checked_against_a_generated_config() -> None:
    text = """\
kind: Cluster
name: demo
kubernetes: {version: v9}
patches: [{name: gone, inline: [{op: remove, path: /machine/nope}]}]
---
kind: ControlPlane
machineSelector: {count: 1}
patches: [{name: hostname, inline: {machine: {network: {hostname: 5}}}}]
---
kind: Workers
name: a
machines: [x]
---
kind: Workers
name: a
machines: [x]
"""
    with pytest.raises(TemplateError) as refused:
        load_template(text, "t.yaml")
    text_of = "\n".join(refused.value.lines())
    assert "'v9' is not a Kubernetes version" in text_of
    assert "cluster patch gone" in text_of and "non-existent" in text_of
    assert "machine.network.hostname: expected a string" in text_of
    assert "name: 'a' names another Workers set too" in text_of
    assert "machines[0]: x is in document 3 (Workers) too" in text_of
