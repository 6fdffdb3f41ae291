"""The node's configs on disk, under its state directory.

=====================  ======================================================================
``config.yaml``        the config the node boots with (0600, replaced atomically)
``config.staged.yaml`` a config applied in staged mode; it replaces ``config.yaml`` at boot
=====================  ======================================================================

A config tried in try mode is never written here until it is confirmed: ``config.yaml`` keeps
the last good config, so a crash, a reboot or the timeout all return to it. Every write is
atomic (a complete temporary file renamed over the target), so a node killed at any moment
finds either the old or the new file, never a part of one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from kiln.machined.statefiles import CONFIG_FILE, STAGED_FILE
from kiln.machinery.config import MachineConfig, load_config_file
from kiln.machinery.errors import ConfigError
from kiln.machinery.privatefile import ensure_private_dir, write_private_file

logger = logging.getLogger(__name__)


class ConfigStore:
    """Reads and writes the configs of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / CONFIG_FILE
        self.staged_path = state_dir / STAGED_FILE

    def load(self) -> MachineConfig | None:
        """The stored config, or None (maintenance mode). ConfigError if it does not load."""
        if not self.path.exists():
            return None
        return load_config_file(self.path)

    def save(self, config: MachineConfig) -> None:
        """Replace the config the node boots with; a staged config is dropped (it is older)."""
        ensure_private_dir(self.state_dir)
        write_private_file(self.path, config.to_yaml())
        self.staged_path.unlink(missing_ok=True)

    def stage(self, config: MachineConfig) -> None:
        """Keep ``config`` for the next boot."""
        ensure_private_dir(self.state_dir)
        write_private_file(self.staged_path, config.to_yaml())

    @property
    def has_staged(self) -> bool:
        return self.staged_path.exists()

    def promote_staged(self) -> bool:
        """At boot: make a staged config the config (True if there was one).

        A staged config that no longer loads is moved aside as ``config.staged.yaml.invalid``
        and the node boots with what it had.
        """
        if not self.staged_path.exists():
            return False
        try:
            load_config_file(self.staged_path)
        except ConfigError as err:
            logger.error("staged config does not load, keeping the current one: %s", err)
            self.staged_path.replace(self.staged_path.with_name(STAGED_FILE + ".invalid"))
            return False
        self.staged_path.replace(self.path)
        return True

    def wipe(self, keep: set[str]) -> None:
        """Remove everything in the config directory except the entries named in ``keep``."""
        wipe_directory(self.state_dir, keep)


def wipe_directory(directory: Path, keep: set[str]) -> None:
    """Remove everything in ``directory`` except the entries named in ``keep``."""
    if not directory.exists():
        return
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
