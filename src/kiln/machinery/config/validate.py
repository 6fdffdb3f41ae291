"""Checks that depend on where a machine runs, on top of the schema's own validation.

=========  =================================================================================
metal      installs itself to ``machine.install.disk`` (without ``install.image`` the image it
           booted from); without one it runs from memory, booted from the network or a VM's
           kernel, and loses its state when it powers off (a warning)
container  runs as a process: ``network.interfaces`` do not apply (a warning); ``install`` is
           ignored silently so that one generated config serves every mode
cloud      boots from a cloud image: nothing to install, nothing extra required
=========  =================================================================================
"""

from __future__ import annotations

from kiln.machinery.config.container import MachineConfig
from kiln.machinery.errors import ConfigError, ConfigProblem
from kiln.machinery.mode import Mode

__all__ = ["Mode", "validate_for_mode"]


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
        if not machine.install.disk:
            reason = "not set: the machine runs from memory and loses its state at power off"
            warnings.append(ConfigProblem(label, "machine.install.disk", reason))
    elif mode is Mode.CONTAINER and machine.network.interfaces:
        reason = "do not apply in container mode (the container runtime owns the links)"
        warnings.append(ConfigProblem(label, "machine.network.interfaces", reason))
    if strict:
        errors.extend(warnings)
        warnings = []
    if errors:
        raise ConfigError(config.source, errors)
    return warnings
