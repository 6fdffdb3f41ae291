"""Turn one composed YAML document (a node graph) into plain JSON values.

Problems are collected, not raised, as ``(path, reason)`` pairs whose reason ends with the line:
duplicate keys, non-string keys, values JSON cannot hold (dates, ``!!binary``, ``!!set``, other
tags, non-finite numbers, unpaired surrogates) and aliases that contain themselves. Aliases are
expanded and merge keys (``<<``) honoured; :class:`TooLarge` and :class:`TooDeep` stop a
document that expands beyond :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import math
import re
from typing import TypeAlias

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kiln.machinery.config.paths import PathPart

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
NodePath = tuple[PathPart, ...]

MAX_DEPTH = 64
MAX_VALUES = 100_000

TAG = "tag:yaml.org,2002:"
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING_TAGS = {f"{TAG}str", f"{TAG}value"}
_TYPE_NAMES = {
    f"{TAG}null": "null",
    f"{TAG}bool": "a boolean",
    f"{TAG}int": "an integer",
    f"{TAG}float": "a number",
    f"{TAG}timestamp": "a date",
}


class TooDeep(Exception):
    """Nesting deeper than :data:`MAX_DEPTH`; ``mark`` is where, if known."""

    def __init__(self, mark: yaml.Mark | None = None) -> None:
        super().__init__("nesting too deep")
        self.mark = mark


class TooLarge(Exception):
    """More than :data:`MAX_VALUES` values; ``mark`` is where, if known."""

    def __init__(self, mark: yaml.Mark | None = None) -> None:
        super().__init__("too many values")
        self.mark = mark


class NodeConverter:
    """Turns one document's node graph into JSON values, collecting (path, reason) problems."""

    def __init__(self, constructor: SafeConstructor) -> None:
        self.problems: list[tuple[NodePath, str]] = []
        self._constructor = constructor
        self._values = 0
        self._open: set[int] = set()  # collection nodes on the current branch (cycle check)

    def convert(self, node: Node, path: NodePath, depth: int) -> JSONValue:
        self._values += 1
        if self._values > MAX_VALUES:
            raise TooLarge(node.start_mark)
        if depth > MAX_DEPTH:
            raise TooDeep(node.start_mark)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._problem(path, node, "an alias refers to the value that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == f"{TAG}seq":
                return [
                    self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode) and node.tag == f"{TAG}map":
                return self._mapping(node, path, depth)
        finally:
            self._open.discard(id(node))
        self._problem(path, node, f"{_short(node.tag)} is not allowed")
        return None

    def _scalar(self, node: ScalarNode, path: NodePath) -> JSONValue:
        tag = node.tag
        try:
            if tag in _STRING_TAGS:
                return self._text(node, path)
            if tag == f"{TAG}null":
                return None
            if tag == f"{TAG}bool":
                return self._constructor.construct_yaml_bool(node)
            if tag == f"{TAG}int":
                return self._constructor.construct_yaml_int(node)
            if tag == f"{TAG}float":
                number = self._constructor.construct_yaml_float(node)
                if math.isfinite(number):
                    return number
                self._problem(path, node, f"{_preview(node.value)} is not a finite number")
                return None
        except ValueError:
            kind = _TYPE_NAMES.get(tag, _short(tag))
            self._problem(path, node, f"{_preview(node.value)} cannot be read as {kind}")
            return None
        if tag == f"{TAG}timestamp":
            self._problem(path, node, "dates and times are not allowed; quote the value")
        else:
            self._problem(path, node, f"{_short(tag)} is not allowed")
        return None

    def _mapping(self, node: MappingNode, path: NodePath, depth: int) -> JSONValue:
        result: dict[str, JSONValue] = {}
        lines: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == f"{TAG}merge":
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in lines:
                self.problems.append(
                    ((*path, key), f"duplicate key (lines {lines[key]} and {line})")
                )
                continue
            lines[key] = line
            result[key] = self.convert(value_node, (*path, key), depth + 1)
        for merge_node in merges:
            self._merge(result, merge_node, path, depth)
        return result

    def _merge(self, into: dict[str, JSONValue], node: Node, path: NodePath, depth: int) -> None:
        """Apply a merge key: keys already present (written or merged earlier) win."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._problem(path, source, "a merge (<<) needs a mapping or a list of mappings")
                continue
            merged = self.convert(source, path, depth)
            if isinstance(merged, dict):
                for key, value in merged.items():
                    into.setdefault(key, value)

    def _text(self, node: ScalarNode, path: NodePath) -> str | None:
        """The string; ``\\ud83d\\ude00``-style escapes (as JSON writes them) are joined."""
        text = str(node.value)
        if _SURROGATE.search(text):
            try:
                return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                self._problem(path, node, "a string holds an unpaired surrogate (\\ud800-\\udfff)")
                return None
        return text

    def _key(self, node: Node, path: NodePath) -> str | None:
        if isinstance(node, ScalarNode) and node.tag in _STRING_TAGS:
            return self._text(node, path)
        if isinstance(node, ScalarNode):
            kind = _TYPE_NAMES.get(node.tag, _short(node.tag))
            reason = (
                f"key {_preview(node.value)} is read as {kind}; keys must be strings (quote it)"
            )
        else:
            reason = "keys must be strings, not lists or mappings"
        self._problem(path, node, reason)
        return None

    def _problem(self, path: NodePath, node: Node, reason: str) -> None:
        self.problems.append((path, f"{reason} (line {node.start_mark.line + 1})"))


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else f"{text[:limit]}...")


def _short(tag: str) -> str:
    return f"!!{tag.removeprefix(TAG)}" if tag.startswith(TAG) else tag
