"""Apply patches to a machine config, in order, and validate the result once at the end.

Intermediate results need not be valid (a patch may remove an interface that the next one adds
back); the final one must be, and is checked exactly like a loaded file, so no patch can produce
a config that escapes validation. Its errors name the config with ``(after patches)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from kiln.machinery.config.container import MachineConfig
from kiln.machinery.config.patches.load import Patch
from kiln.machinery.config.patches.strategic import Document


def apply_patches(config: MachineConfig, patches: Sequence[Patch]) -> MachineConfig:
    """A new config: ``patches`` applied to ``config`` in order, then validated.

    Raises PatchError if a patch cannot be applied and ConfigError if the result is invalid.
    """
    documents = cast(list[Document], config.to_documents())
    for patch in patches:
        documents = patch.apply(documents)
    return MachineConfig.from_documents(documents, source=f"{config.source} (after patches)")
