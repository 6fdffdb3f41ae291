"""RFC 6902 JSON patches, applied to the MachineConfig document.

Paths are JSON pointers into the document as written (``/machine/network/hostname``); defaults
the file leaves out are not there to ``replace`` (use ``add``). Operations run in order, one at
a time, so a failure names the operation: ``p.yaml: operation 2 of 3 (remove
/machine/files/4): ...``. Failure reasons never quote the document, which holds secrets.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jsonpatch
import jsonpointer

from kiln.machinery.config.diagnostics import type_name
from kiln.machinery.config.patches.strategic import MAIN_KIND, Document
from kiln.machinery.config.yamlparse import JSONValue
from kiln.machinery.errors import PatchError

_NEEDS = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}


@dataclass(frozen=True)
class JsonPatch:
    """A list of RFC 6902 operations; ``source`` names it in errors."""

    source: str
    operations: tuple[Document, ...]

    @classmethod
    def from_operations(cls, operations: Sequence[JSONValue], source: str) -> JsonPatch:
        """Check the shape of every operation (raise PatchError) and build the patch."""
        checked: list[Document] = []
        for number, operation in enumerate(operations, start=1):
            where = f"{source}: operation {number} of {len(operations)}"
            if not isinstance(operation, dict):
                raise PatchError(f"{where}: expected a mapping, got {type_name(operation)}")
            name = operation.get("op")
            if not isinstance(name, str) or name not in _NEEDS:
                known = ", ".join(_NEEDS)
                raise PatchError(f"{where}: 'op' must be one of {known}, got {name!r:.40}")
            for member in _NEEDS[name]:
                if member not in operation:
                    raise PatchError(f"{where}: {name} needs {member!r}")
            for member in ("path", "from"):
                if member in operation and not isinstance(operation[member], str):
                    raise PatchError(f"{where}: {member!r} must be a string (a JSON pointer)")
            unknown = sorted(set(operation) - {"op", *_NEEDS[name]})
            if unknown:
                raise PatchError(f"{where}: unknown member(s) {', '.join(unknown)}")
            checked.append(operation)
        return cls(source, tuple(checked))

    def apply(self, documents: list[Document]) -> list[Document]:
        """The documents with every operation applied to the MachineConfig document."""
        result = copy.deepcopy(documents)
        index = next((i for i, doc in enumerate(result) if doc.get("kind") == MAIN_KIND), None)
        if index is None:
            raise PatchError(f"{self.source}: there is no {MAIN_KIND} document to patch")
        document: JSONValue = result[index]
        total = len(self.operations)
        for number, operation in enumerate(self.operations, start=1):
            try:
                document = jsonpatch.JsonPatch([operation]).apply(document, in_place=False)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
                where = f"operation {number} of {total} ({_describe(operation)})"
                raise PatchError(f"{self.source}: {where}: {_reason(exc)}") from None
        if not isinstance(document, dict):
            raise PatchError(f"{self.source}: the {MAIN_KIND} document must stay a mapping")
        result[index] = document
        return result


def _describe(operation: Document) -> str:
    if "from" in operation:
        return f"{operation['op']} {operation['from']} to {operation['path']}"
    return f"{operation['op']} {operation['path']}"


_TYPE_NAMES = {"str": "a string", "int": "an integer", "bool": "a boolean", "float": "a number"}


def _reason(exc: Exception) -> str:
    if isinstance(exc, jsonpatch.JsonPatchTestFailed):
        return "test failed: the value differs"
    message = str(exc)
    head, found, _ = message.partition(" not found in ")  # the rest quotes the whole document
    if found:
        message = f"{head} not found"
    elif re.fullmatch(r"'[^']*'", message):  # a bare KeyError/IndexError text: the missing member
        message = f"{message[:60]} does not exist"
    message = re.sub(r"<class '(\w+)'>", lambda match: _TYPE_NAMES.get(match[1], match[1]), message)
    return message if len(message) <= 120 else f"{message[:117]}..."
