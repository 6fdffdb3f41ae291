"""Read a patch from a command-line argument: ``@path`` reads a file, anything else is inline.

The text is YAML (JSON is accepted as YAML), read with the same strict, bounded parser as
config files. A single document that is a list of operations is an RFC 6902 JSON patch; one or
more mapping documents are a strategic merge patch.
"""

from __future__ import annotations

from pathlib import Path

from kiln.machinery.config.diagnostics import type_name
from kiln.machinery.config.patches.json_patch import JsonPatch
from kiln.machinery.config.patches.strategic import Document, StrategicPatch
from kiln.machinery.config.yamlparse import MAX_INPUT_BYTES, parse_yaml
from kiln.machinery.errors import PatchError

Patch = StrategicPatch | JsonPatch

_INLINE = "inline patch"


def parse_patch(argument: str, *, source: str | None = None) -> Patch:
    """Parse ``@file.yaml`` or inline YAML/JSON text; raise PatchError if it is not a patch.

    ``source`` names the patch in errors; by default the file's path, or ``inline patch``.
    """
    if not argument.startswith("@"):
        return parse_patch_text(argument, source or _INLINE)
    name = argument[1:]
    if not name:
        raise PatchError("a file name must follow '@' in a patch argument")
    label = source or (name if name.isprintable() else repr(name))
    try:
        with Path(name).open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise PatchError(f"{label}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # e.g. a NUL byte in the name
        raise PatchError(f"{label}: cannot open: {exc}") from exc
    return parse_patch_text(data, label)


def parse_patch_text(data: str | bytes, source: str) -> Patch:
    """Parse the text of a patch (see the module docstring); ``source`` names it in errors."""
    stream = parse_yaml(data)
    if stream.problems:
        first, count = stream.problems[0], len(stream.problems)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise PatchError(f"{source}: {first}{more}")
    values = [document.value for document in stream.documents]
    if not values:
        raise PatchError(f"{source}: the patch is empty")
    if len(values) == 1 and isinstance(values[0], list):
        return JsonPatch.from_operations(values[0], source)
    documents: list[Document] = []
    for number, value in enumerate(values, start=1):
        if not isinstance(value, dict):
            raise PatchError(
                f"{source}: document {number}: a patch is a mapping (strategic merge) or a list "
                f"of operations (JSON patch), not {type_name(value)}"
            )
        documents.append(value)
    return StrategicPatch(source, tuple(documents))
