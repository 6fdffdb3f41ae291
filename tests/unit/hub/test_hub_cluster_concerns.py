"""Which changes the cluster controllers act on: a machine no cluster holds changes nothing
for them unless a cluster still lacks machines."""

from __future__ import annotations

from dataclasses import replace

from kiln.hub.controllers.clusters.concerns import concerns, short_of_machines
from kiln.hub.resources import (
    ClusterMachineSpec,
    ClusterSpec,
    MachineLabelsSpec,
    MachineStatusSpec,
)
from kiln.hub.templates.load import load_template
from kiln.machinery.config.model import MachineType
from kiln.resources import Phase, Pointer, Resource

SELECTED = """\
kind: Cluster
name: c1
---
kind: ControlPlane
machineSelector: {selector: "pool=a", count: 2}
"""
NAMED = """\
kind: Cluster
name: c1
---
kind: ControlPlane
machines: [m1, m2]
"""


def a_cluster(text: str) -> Resource[ClusterSpec]:
    return Resource.new("c1", ClusterSpec(template=load_template(text, "t")))


def holding(*uuids: str, set_name: str = "controlplane") -> list[Resource[ClusterMachineSpec]]:
    return [
        Resource.new(
            uuid,
            ClusterMachineSpec(
                cluster="c1",
                set_name=set_name,
                machine_type=MachineType.CONTROLPLANE,
                address="192.0.2.1",
                endpoint="https://192.0.2.1:6443",
            ),
        )
        for uuid in uuids
    ]


def test_changes_to_machines_no_cluster_holds_do_not_concern_the_cluster_controllers() -> None:
    status, labels = Pointer.of(MachineStatusSpec, "free"), Pointer.of(MachineLabelsSpec, "free")
    assert not concerns(frozenset({status, labels}), {"m1"})
    assert concerns(frozenset({status, Pointer.of(MachineStatusSpec, "m1")}), {"m1"})
    assert concerns(frozenset({Pointer.of(ClusterSpec, "c1")}), set())
    assert concerns(frozenset({status}), {"m1"}, any_machine=True)  # a cluster lacks machines
    assert concerns(None, set())  # anything may have changed


def test_a_cluster_is_short_until_each_set_holds_what_it_asks_for() -> None:
    selected = a_cluster(SELECTED)
    set_name = selected.spec.template.machine_sets()[0].set_name
    assert short_of_machines([selected], holding("m1", set_name=set_name))
    assert not short_of_machines([selected], holding("m1", "m9", set_name=set_name))
    named = a_cluster(NAMED)
    assert short_of_machines([named], holding("m1", "m9", set_name=set_name))  # not m2
    assert not short_of_machines([named], holding("m1", "m2", set_name=set_name))


def test_machines_being_given_back_and_clusters_being_deleted_do_not_count() -> None:
    selected = a_cluster(SELECTED)
    set_name = selected.spec.template.machine_sets()[0].set_name
    leaving = holding("m1", "m2", set_name=set_name)
    leaving[1].metadata = replace(leaving[1].metadata, phase=Phase.TEARING_DOWN)
    assert short_of_machines([selected], leaving)
    selected.metadata = replace(selected.metadata, phase=Phase.TEARING_DOWN)
    assert not short_of_machines([selected], [])
