"""The one list of kilnctl's top-level commands."""

from __future__ import annotations

import importlib

import click

# module path -> attribute holding the click command or group
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("kiln.ctl.gen", "gen"),
    ("kiln.ctl.config_cmd", "config"),
    ("kiln.ctl.validate", "validate"),
    ("kiln.ctl.machineconfig", "machineconfig"),
    ("kiln.ctl.apply_config", "apply_config"),
    ("kiln.ctl.apply_config", "confirm_config"),
    ("kiln.ctl.version", "version"),
    ("kiln.ctl.hardware", "hardware"),
    ("kiln.ctl.get", "get"),
    ("kiln.ctl.services", "services"),
    ("kiln.ctl.services", "service"),
    ("kiln.ctl.logs", "logs"),
    ("kiln.ctl.events", "events"),
    ("kiln.ctl.power", "reboot"),
    ("kiln.ctl.power", "shutdown"),
    ("kiln.ctl.power", "reset"),
    ("kiln.ctl.upgrade", "upgrade"),
    ("kiln.ctl.upgrade", "rollback"),
    ("kiln.ctl.bootstrap", "bootstrap"),
    ("kiln.ctl.etcd", "etcd"),
    ("kiln.ctl.cluster", "cluster"),
    ("kiln.ctl.machines", "machines"),
    ("kiln.ctl.health", "health"),
    ("kiln.ctl.image", "image"),
    ("kiln.ctl.kubeconfig_cmd", "kubeconfig_command"),
    ("kiln.ctl.upgrade_k8s", "upgrade_k8s"),
)


def all_commands() -> list[click.Command]:
    """Import and return every top-level command, in the order they are listed."""
    return [getattr(importlib.import_module(mod), attr) for mod, attr in _COMMANDS]
