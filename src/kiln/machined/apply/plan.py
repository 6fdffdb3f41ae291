"""Checking a config a client applies and deciding what to do with it, before anything changes.

:func:`plan` parses and validates the config (every problem at once), refuses one for another
cluster, resolves the mode and makes the diff. A worker's config holds no OS CA key: such a
node gets its API certificate from a control-plane node once it boots with it.
Carrying the plan out is the node's job (:mod:`kiln.machined.node`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.machined.apply.diff import config_diff
from kiln.machined.apply.modes import Decision, changed_paths, decide
from kiln.machined.errors import ConfigRefusedError
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.config import MachineConfig, Mode, load_config, validate_for_mode
from kiln.machinery.drain import DrainOptions

SOURCE = "applied config"


@dataclass(frozen=True)
class ApplyRequest:
    data: bytes
    mode: ApplyMode = ApplyMode.AUTO
    dry_run: bool = False
    try_timeout: float = 0.0
    drain: DrainOptions = field(default_factory=DrainOptions)  # before a reboot it needs


@dataclass(frozen=True)
class ApplyPlan:
    config: MachineConfig
    decision: Decision
    diff: str
    warnings: list[str] = field(default_factory=list)


def plan(
    request: ApplyRequest,
    *,
    running: MachineConfig | None,
    platform: Mode,
) -> ApplyPlan:
    """The plan for ``request`` on a node running ``running`` (None: maintenance mode).

    Raises ConfigError listing every problem of an invalid config, ConfigRefusedError for a
    valid one the node will not take.
    """
    config = load_config(request.data, source=SOURCE)
    warnings = validate_for_mode(config, platform)
    check_same_cluster(running, config)
    changed = changed_paths(
        running.to_documents() if running is not None else None, config.to_documents()
    )
    decision = decide(
        request.mode,
        maintenance=running is None,
        changed=changed,
        try_timeout=request.try_timeout,
    )
    return ApplyPlan(config, decision, config_diff(running, config), [str(w) for w in warnings])


def check_same_cluster(running: MachineConfig | None, config: MachineConfig) -> None:
    """A configured node takes only configs whose OS CA is the one it trusts now."""
    if running is None:
        return
    if running.machine_config.machine.ca.crt != config.machine_config.machine.ca.crt:
        raise ConfigRefusedError(
            "the config is for another cluster: its OS CA (machine.ca) differs from this "
            "node's; reset the node to move it to another cluster"
        )
