"""The machine config: schema, loading and validation, mode checks, JSON Schema and patches.

::

    config = load_config_file("controlplane.yaml")            # or load_config(text, source=...)
    warnings = validate_for_mode(config, Mode.METAL)
    patched = apply_patches(config, [parse_patch("@eth1.yaml"), parse_patch("machine: {...}")])
    print(patched.to_yaml())

Every problem with a config is a :class:`ConfigError` listing all problems found; a patch that
cannot be parsed or applied is a :class:`PatchError`.
"""

from kiln.machinery.config.container import REDACTED, MachineConfig
from kiln.machinery.config.loader import load_config, load_config_file
from kiln.machinery.config.model import (
    API_VERSION,
    DOCUMENT_KINDS,
    HubJoinConfigDocument,
    MachineConfigDocument,
)
from kiln.machinery.config.patches import (
    JsonPatch,
    Patch,
    StrategicPatch,
    apply_patches,
    parse_patch,
    parse_patch_text,
)
from kiln.machinery.config.schema import json_schema
from kiln.machinery.config.validate import Mode, validate_for_mode
from kiln.machinery.errors import ConfigError, ConfigProblem, PatchError

__all__ = [
    "API_VERSION",
    "DOCUMENT_KINDS",
    "REDACTED",
    "ConfigError",
    "ConfigProblem",
    "HubJoinConfigDocument",
    "JsonPatch",
    "MachineConfig",
    "MachineConfigDocument",
    "Mode",
    "Patch",
    "PatchError",
    "StrategicPatch",
    "apply_patches",
    "json_schema",
    "load_config",
    "load_config_file",
    "parse_patch",
    "parse_patch_text",
    "validate_for_mode",
]
