"""Which apply mode a request gets: what changed, whether that needs a reboot, what to do.

Pure functions over plain config documents (as ``MachineConfig.to_documents()`` gives them):

==========  ==================================  ===========================================
requested   configured node                     node in maintenance mode
==========  ==================================  ===========================================
auto        live, or reboot if a change needs   boot with the config
no-reboot   live; refused if a change needs it  boot with the config
reboot      store, then reboot                  boot with the config
staged      store for the next boot             refused: nothing to stage onto
try         live for a while; refused if a      refused: nothing to revert to
            change needs a reboot
==========  ==================================  ===========================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiln.machined.errors import ConfigRefusedError
from kiln.machinery.applymode import ApplyMode

#: Config paths (YAML names) whose change takes a reboot: the node's identity and PKI, which
#: its API certificate and the cluster's services are made from at boot.
REBOOT_REQUIRED: tuple[str, ...] = (
    "machine.type",
    "machine.token",
    "machine.ca",
    "machine.certSANs",
    "machine.install",
    "machine.network.interfaces",
    "cluster.id",
    "cluster.secret",
    "cluster.controlPlane",
    "cluster.kubernetes.artifacts",  # a version change is applied live (upgrade-k8s)
    "cluster.secretboxEncryptionSecret",
    "cluster.ca",
    "cluster.aggregatorCA",
    "cluster.serviceAccount",
    "cluster.etcd",
    "cluster.network",
)

#: Paths under those that apply live all the same: read only when the node next does the
#: work they are for (an upgrade writes its new slot's health deadline from the config).
LIVE_UNDER_REBOOT: tuple[str, ...] = ("machine.install.upgradeHealthTimeout",)

DEFAULT_TRY_TIMEOUT = 60.0
MAIN_KIND = "MachineConfig"


class Action(StrEnum):
    """What the node does with a config once it is accepted."""

    BOOT = "boot"  # store it and leave maintenance mode: boot with it
    LIVE = "live"  # store it and apply it now
    REBOOT = "reboot"  # store it and reboot
    STAGE = "stage"  # store it for the next boot
    TRY = "try"  # apply it now without storing it; revert after a timeout unless confirmed


@dataclass(frozen=True)
class Decision:
    """The mode the request resolved to, what to do, and a sentence for the client."""

    mode: ApplyMode
    action: Action
    details: str
    try_timeout: float = 0.0


def changed_paths(
    old: Sequence[Mapping[str, Any]] | None, new: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The paths whose values differ, MachineConfig paths bare, others as ``Kind.path``."""
    before = _by_kind(old or [])
    after = _by_kind(new)
    paths: list[str] = []
    for kind in sorted(set(before) | set(after), key=lambda k: (k != MAIN_KIND, k)):
        prefix = "" if kind == MAIN_KIND else f"{kind}."
        if kind not in before or kind not in after:
            paths.append(prefix.rstrip(".") or kind)
            continue
        _compare(before[kind], after[kind], prefix, paths)
    return paths


def needing_reboot(paths: Sequence[str]) -> list[str]:
    """The changed paths that take a reboot."""
    return [
        p
        for p in paths
        if p not in LIVE_UNDER_REBOOT
        and any(p == r or p.startswith(f"{r}.") for r in REBOOT_REQUIRED)
    ]


def decide(
    requested: ApplyMode,
    *,
    maintenance: bool,
    changed: Sequence[str],
    try_timeout: float = 0.0,
) -> Decision:
    """The decision for a request; ConfigRefusedError when the mode cannot take the change."""
    if maintenance:
        if requested in (ApplyMode.STAGED, ApplyMode.TRY):
            raise ConfigRefusedError(
                f"{requested} mode needs a configured node: this node is in maintenance mode "
                "(apply with auto, no-reboot or reboot)"
            )
        return Decision(requested, Action.BOOT, "the node leaves maintenance mode and boots")
    reboot = needing_reboot(changed)
    if not changed and requested in (ApplyMode.AUTO, ApplyMode.NO_REBOOT, ApplyMode.TRY):
        return Decision(requested, Action.LIVE, "no changes")
    if requested is ApplyMode.AUTO:
        if reboot:
            return Decision(ApplyMode.REBOOT, Action.REBOOT, _reboot_reason(reboot))
        return Decision(ApplyMode.NO_REBOOT, Action.LIVE, "applied without a reboot")
    if requested is ApplyMode.NO_REBOOT:
        if reboot:
            raise ConfigRefusedError(
                f"cannot apply without a reboot: {_reboot_reason(reboot)} "
                "(use --mode auto, reboot or staged)"
            )
        return Decision(requested, Action.LIVE, "applied without a reboot")
    if requested is ApplyMode.REBOOT:
        return Decision(requested, Action.REBOOT, "applied; the node reboots")
    if requested is ApplyMode.STAGED:
        return Decision(requested, Action.STAGE, "staged; takes effect at the next reboot")
    if reboot:
        raise ConfigRefusedError(f"try mode applies only live changes: {_reboot_reason(reboot)}")
    timeout = try_timeout if try_timeout > 0 else DEFAULT_TRY_TIMEOUT
    return Decision(
        requested,
        Action.TRY,
        f"applied for {timeout:g}s; reverts unless confirmed",
        try_timeout=timeout,
    )


def _reboot_reason(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"changes to {shown} need a reboot"


def _by_kind(documents: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(document.get("kind", "")): document for document in documents}


def _compare(old: object, new: object, prefix: str, out: list[str]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key) != new.get(key):
                _compare(old.get(key), new.get(key), f"{prefix}{key}.", out)
        return
    if old != new:
        out.append(prefix.rstrip("."))
