"""Which machines of a cluster a call through the hub names."""

from __future__ import annotations

import pytest

from kiln.hub.api.cluster_nodes import ClusterNode, ClusterView
from kiln.hub.errors import NotFoundError, NotReadyError
from kiln.machinery.config.model import MachineType

CP1 = ClusterNode("u-1", "10.5.0.2", "cp-1", MachineType.CONTROLPLANE, bootstrap=False)
CP2 = ClusterNode("u-2", "10.5.0.3", "cp-2", MachineType.CONTROLPLANE, bootstrap=True)
W1 = ClusterNode("u-3", "10.5.0.4", "w-1", MachineType.WORKER, bootstrap=False)
VIEW = ClusterView("edge", "https://10.5.0.3:6443", (CP1, CP2, W1))


def test_no_node_named_is_the_bootstrapped_control_plane() -> None:
    assert VIEW.pick([]) == [("", CP2)]
    workers_only = ClusterView("edge", "", (W1,))
    with pytest.raises(NotReadyError, match="no control plane"):
        workers_only.pick([])


def test_a_machine_is_named_by_address_hostname_or_uuid() -> None:
    picked = VIEW.pick(["10.5.0.4:50000", "CP-1", "u-2", "10.5.0.4"])
    assert picked == [("10.5.0.4:50000", W1), ("CP-1", CP1), ("u-2", CP2), ("10.5.0.4", W1)]


def test_a_machine_of_no_or_another_cluster_is_not_found() -> None:
    with pytest.raises(NotFoundError) as refused:
        VIEW.pick(["cp-2", "10.5.0.9"])
    assert str(refused.value).startswith("10.5.0.9: not a machine of cluster edge (its machines: ")
    assert "cp-1 (10.5.0.2, u-1)" in str(refused.value)
