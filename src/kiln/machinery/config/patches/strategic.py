"""Strategic merge patches: partial config documents merged onto a config (as Talos does).

A patch document is matched to the config document of the same ``kind`` (a patch without
``kind`` patches the MachineConfig); a document of a kind the config lacks is added. Then:

- mappings merge key by key, recursively; scalars and type changes replace;
- lists of named items merge by their key (below: an item with a new key is appended, one with
  a known key is merged into it); every other list is appended to, skipping items already there;
- ``{$patch: delete}`` as the value of a key deletes that key; a named list item
  ``{name: eth1, $patch: delete}`` deletes that item; ``$patch: delete`` next to ``apiVersion``
  and ``kind`` at the top of a patch document deletes the whole document. Deleting what is not
  there is a no-op, so a patch can be applied twice.

Replacing or removing single items of an ordinary list is what JSON patches are for.
Nothing here validates the result; :func:`~kiln.machinery.config.patches.apply.apply_patches`
validates once after the last patch.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import NoReturn

from kiln.machinery.config.paths import PathPart, render_path
from kiln.machinery.config.yamlparse import JSONValue
from kiln.machinery.errors import PatchError

Document = dict[str, JSONValue]

DIRECTIVE = "$patch"
DELETE = "delete"
MAIN_KIND = "MachineConfig"

# List path (keys only, list indices left out) -> the key its items merge by.
KEYED_LISTS: dict[tuple[str, ...], str] = {
    ("machine", "network", "interfaces"): "name",
    ("machine", "network", "interfaces", "routes"): "network",
    ("machine", "files"): "path",
    ("machine", "kubelet", "nodeTaints"): "key",
    ("cluster", "inlineManifests"): "name",
}


@dataclass(frozen=True)
class StrategicPatch:
    """Partial documents to merge onto a config's documents; ``source`` names it in errors."""

    source: str
    documents: tuple[Document, ...]

    def apply(self, documents: list[Document]) -> list[Document]:
        """The merged documents; neither ``documents`` nor the patch is modified."""
        result = copy.deepcopy(documents)
        for number, patch in enumerate(self.documents, start=1):
            where = self.source if len(self.documents) == 1 else f"{self.source}: document {number}"
            _Merger(where).document(result, patch)
        return result


class _Merger:
    def __init__(self, where: str) -> None:
        self._where = where

    def document(self, documents: list[Document], patch: Document) -> None:
        kind = patch.get("kind", MAIN_KIND)
        index = next((i for i, doc in enumerate(documents) if doc.get("kind") == kind), None)
        if DIRECTIVE in patch:
            self._check_delete(patch, {"apiVersion", "kind"}, ())
            if index is not None:
                del documents[index]
            return
        if index is None:
            documents.append({})
            index = len(documents) - 1
        self._mapping(documents[index], patch, ())

    def _mapping(self, base: Document, patch: Document, path: tuple[PathPart, ...]) -> None:
        for key, value in patch.items():
            here = (*path, key)
            if isinstance(value, dict) and DIRECTIVE in value:
                self._check_delete(value, set(), here)
                base.pop(key, None)
            elif isinstance(value, dict):
                current = base.get(key)
                target = current if isinstance(current, dict) else {}
                self._mapping(target, value, here)
                base[key] = target
            elif isinstance(value, list):
                current = base.get(key)
                base[key] = self._list(current if isinstance(current, list) else [], value, here)
            else:
                base[key] = value

    def _list(
        self, base: list[JSONValue], patch: list[JSONValue], path: tuple[PathPart, ...]
    ) -> list[JSONValue]:
        merge_key = KEYED_LISTS.get(tuple(part for part in path if isinstance(part, str)))
        result = list(base)
        if merge_key is None:
            present = {_canonical(item) for item in result}
            for index, item in enumerate(patch):
                fresh = self._fresh(item, (*path, index))
                if _canonical(fresh) not in present:
                    present.add(_canonical(fresh))
                    result.append(fresh)
            return result
        for index, item in enumerate(patch):
            here = (*path, index)
            if not isinstance(item, dict) or item.get(merge_key) is None:
                self._fail(here, f"items of this list merge by {merge_key!r}; this one has none")
            name = item[merge_key]
            match = next(
                (
                    position
                    for position, existing in enumerate(result)
                    if isinstance(existing, dict) and existing.get(merge_key) == name
                ),
                None,
            )
            if DIRECTIVE in item:
                self._check_delete(item, {merge_key}, here)
                if match is not None:
                    del result[match]
            elif match is None:
                result.append(self._fresh(item, here))
            else:
                existing = result[match]
                assert isinstance(existing, dict)
                self._mapping(existing, item, (*path, match))
        return result

    def _fresh(self, value: JSONValue, path: tuple[PathPart, ...]) -> JSONValue:
        """A patch value where the config has none: merged onto nothing (drops deletions)."""
        if isinstance(value, dict):
            if DIRECTIVE in value:
                self._fail(path, f"{DIRECTIVE} is only allowed in mappings and named list items")
            target: Document = {}
            self._mapping(target, value, path)
            return target
        if isinstance(value, list):
            return self._list([], value, path)
        return value

    def _check_delete(self, value: Document, allowed: set[str], path: tuple[PathPart, ...]) -> None:
        directive = value[DIRECTIVE]
        if directive != DELETE:
            self._fail(
                path, f"unknown {DIRECTIVE} {directive!r:.40} (only {DELETE!r} is supported)"
            )
        extra = sorted(set(value) - allowed - {DIRECTIVE})
        if extra:
            self._fail(path, f"{DIRECTIVE}: {DELETE} cannot be combined with {', '.join(extra)}")

    def _fail(self, path: tuple[PathPart, ...], reason: str) -> NoReturn:
        where = render_path(path)
        raise PatchError(
            f"{self._where}: {where}: {reason}" if where else f"{self._where}: {reason}"
        )


def _canonical(value: JSONValue) -> str:
    """A text equal for equal JSON values and different for ``1``, ``1.0`` and ``true``."""
    return json.dumps(value, sort_keys=True)
