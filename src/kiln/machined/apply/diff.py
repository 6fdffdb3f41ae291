"""What an apply changes, as people read it: a unified diff of the redacted configs."""

from __future__ import annotations

import difflib

from kiln.machinery.config import MachineConfig


def config_diff(old: MachineConfig | None, new: MachineConfig) -> str:
    """A unified diff from ``old`` (None: no config yet) to ``new``, secrets redacted.

    Two configs that differ only in a secret give an empty diff; ``changed_paths`` in
    :mod:`kiln.machined.apply.modes` still sees the change.
    """
    before = old.redacted().to_yaml().splitlines(keepends=True) if old is not None else []
    after = new.redacted().to_yaml().splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, "current", "new"))
