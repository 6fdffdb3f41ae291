"""Config patches: strategic merge patches and RFC 6902 JSON patches, applied in order."""

from kiln.machinery.config.patches.apply import apply_patches
from kiln.machinery.config.patches.json_patch import JsonPatch
from kiln.machinery.config.patches.load import Patch, parse_patch, parse_patch_text
from kiln.machinery.config.patches.strategic import KEYED_LISTS, StrategicPatch

__all__ = [
    "KEYED_LISTS",
    "JsonPatch",
    "Patch",
    "StrategicPatch",
    "apply_patches",
    "parse_patch",
    "parse_patch_text",
]
