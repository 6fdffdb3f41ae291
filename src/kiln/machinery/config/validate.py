"""Checks that depend on where a machine runs, on top of the schema's own validation.

=========  =================================================================================
metal      installs itself to a disk: ``machine.install.disk`` and ``install.image`` required
container  runs in a container: ``install`` and ``network.interfaces`` do not apply (warnings)
cloud      boots from a cloud image: nothing to install, nothing extra required
=========  =================================================================================
"""

from __future__ import annotations

from enum import StrEnum

from kiln.machinery.config.container import MachineConfig
from kiln.machinery.errors import ConfigError, ConfigProblem


class Mode(StrEnum):
    """Where a node runs."""

    METAL = "metal"
    CONTAINER = "container"
    CLOUD = "cloud"


def validate_for_mode(
    config: MachineConfig, mode: Mode, *, strict: bool = False
) -> list[ConfigProblem]:
    """Check ``config`` for ``mode``: raise ConfigError on errors, return the warnings.

    With ``strict``, warnings are errors too.
    """
    errors: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    label = config.label("MachineConfig")
    machine = config.machine_config.machine
    if mode is Mode.METAL:
        for name, value in (("disk", machine.install.disk), ("image", machine.install.image)):
            if not value:
                path = f"machine.install.{name}"
                errors.append(ConfigProblem(label, path, "required in metal mode"))
    elif mode is Mode.CONTAINER:
        if "install" in machine.model_fields_set:
            reason = "does not apply in container mode and is ignored"
            warnings.append(ConfigProblem(label, "machine.install", reason))
        if machine.network.interfaces:
            reason = "do not apply in container mode (the container runtime owns the links)"
            warnings.append(ConfigProblem(label, "machine.network.interfaces", reason))
    if strict:
        errors.extend(warnings)
        warnings = []
    if errors:
        raise ConfigError(config.source, errors)
    return warnings
