"""What ``kilnctl upgrade-k8s`` does, decided from the nodes' configs alone (so a second run
after an interruption goes on where the first stopped):

1. every control-plane node whose ``cluster.kubernetes.version`` is not the target, one at a
   time: the new version, with its kubelet pinned to the version it runs
   (``machine.kubelet.version``), so no kubelet is newer than an API server;
2. then every node (control planes first) whose kubelet is not on the target or is pinned:
   the new version, unpinned.

Checks before anything changes: the target is in the compatibility table, is not older than
any node's version and skips no minor release.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiln.ctl.errors import CliError
from kiln.machined.kubernetes.errors import KubernetesVersionError
from kiln.machined.kubernetes.versions import Version, compatibility
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.model import MachineType
from kiln.machinery.kubernetes import services as names


class StepKind(StrEnum):
    CONTROL_PLANE = "control plane"
    KUBELET = "kubelet"

    @property
    def services(self) -> tuple[str, ...]:
        """The services the node restarts for this step, in order."""
        if self is StepKind.CONTROL_PLANE:
            return names.CONTROL_PLANE_SERVICES
        return (names.KUBELET, names.KUBE_PROXY)


@dataclass(frozen=True)
class NodeVersions:
    """What one node runs, from its config."""

    node: str
    controlplane: bool
    cluster: str  # cluster.kubernetes.version
    kubelet_pin: str | None  # machine.kubelet.version

    @classmethod
    def of(cls, node: str, config: MachineConfig) -> NodeVersions:
        document = config.machine_config
        return cls(
            node,
            document.machine.type is MachineType.CONTROLPLANE,
            document.cluster.kubernetes.version,
            document.machine.kubelet.version,
        )

    @property
    def kubelet(self) -> str:
        return self.kubelet_pin or self.cluster


@dataclass(frozen=True)
class Step:
    node: str
    kind: StepKind

    def __str__(self) -> str:
        return f"{self.node}: {self.kind.value} → " + ", ".join(self.kind.services)


def check_target(nodes: Sequence[NodeVersions], target: str) -> None:
    """CliError unless every node may go to ``target`` (see the module docstring)."""
    try:
        compatibility(target)
        wanted = Version.parse(target)
        for node in nodes:
            for what, running in (("control plane", node.cluster), ("kubelet", node.kubelet)):
                current = Version.parse(running)
                if wanted < current:
                    raise CliError(
                        f"{node.node}: its {what} runs {current}: a downgrade to {wanted} "
                        "is not supported"
                    )
                if (wanted.major, wanted.minor) > (current.major, current.minor + 1):
                    raise CliError(
                        f"{node.node}: its {what} runs {current}: upgrade one minor release "
                        f"at a time (to v{current.major}.{current.minor + 1} first)"
                    )
    except KubernetesVersionError as exc:
        raise CliError(str(exc)) from None


def plan(nodes: Sequence[NodeVersions], target: str) -> list[Step]:
    """The steps left to bring ``nodes`` to ``target``, in order."""
    ordered = sorted(nodes, key=lambda n: not n.controlplane)
    steps = [
        Step(n.node, StepKind.CONTROL_PLANE)
        for n in ordered
        if n.controlplane and n.cluster != target
    ]
    steps += [
        Step(n.node, StepKind.KUBELET)
        for n in ordered
        if n.kubelet != target or n.kubelet_pin is not None or n.cluster != target
    ]
    return steps


def patched(config: MachineConfig, kind: StepKind, target: str) -> MachineConfig:
    """``config`` after ``kind``'s step to ``target``."""
    documents: list[dict[str, Any]] = copy.deepcopy(config.to_documents())
    main = documents[0]
    current = NodeVersions.of("", config)
    main["cluster"].setdefault("kubernetes", {})["version"] = target
    kubelet = main["machine"].setdefault("kubelet", {})
    if kind is StepKind.CONTROL_PLANE and current.kubelet != target:
        kubelet["version"] = current.kubelet
    else:
        kubelet.pop("version", None)
    return MachineConfig.from_documents(documents)
