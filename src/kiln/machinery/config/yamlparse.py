"""Strict, bounded parsing of multi-document YAML into plain JSON values.

Only what JSON can hold comes out: mappings with string keys, lists, strings, integers, finite
floats, booleans and null. Everything else YAML can express is a problem with the path and line
where it occurs: duplicate keys, non-string keys (``1:``, ``yes:``), dates and timestamps,
``!!binary``, ``!!set``, ``!!omap`` and any other tag. Aliases are expanded (merge keys ``<<``
are honoured) but never into a cycle.

Input is bounded so hostile files fail fast with a problem instead of exhausting the process:
:data:`MAX_INPUT_BYTES` of input, :data:`MAX_DOCUMENTS` documents, :data:`MAX_DEPTH` levels of
nesting and :data:`MAX_VALUES` values per document after expanding aliases.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TypeAlias

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kiln.machinery.config.paths import PathPart, render_path
from kiln.machinery.errors import ConfigProblem

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

MAX_INPUT_BYTES = 4 * 1024 * 1024
MAX_DOCUMENTS = 100
MAX_DEPTH = 64
MAX_VALUES = 100_000

_TAG = "tag:yaml.org,2002:"
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING_TAGS = {f"{_TAG}str", f"{_TAG}value"}
_TYPE_NAMES = {
    f"{_TAG}null": "null",
    f"{_TAG}bool": "a boolean",
    f"{_TAG}int": "an integer",
    f"{_TAG}float": "a number",
    f"{_TAG}timestamp": "a date",
}


@dataclass(frozen=True)
class ParsedDocument:
    """One non-empty document of a stream; ``ok`` is false if it had problems of its own."""

    number: int  # 1-based, counting non-empty documents
    line: int  # 1-based line where the document starts
    value: JSONValue
    ok: bool


@dataclass
class ParsedStream:
    """The documents read and the problems found; ``complete`` is false if reading stopped early."""

    documents: list[ParsedDocument] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    complete: bool = True


def document_label(number: int, value: object) -> str:
    """``document 2 (HubJoinConfig)``, or ``document 2`` when the kind is not known."""
    kind = value.get("kind") if isinstance(value, dict) else None
    return f"document {number} ({kind})" if isinstance(kind, str) and kind else f"document {number}"


def parse_yaml(data: str | bytes) -> ParsedStream:
    """Parse every document of ``data``; never raises, every failure is a problem."""
    text, problem = _decode(data)
    if problem is not None:
        return ParsedStream(problems=[ConfigProblem("input", "", problem)], complete=False)
    stream = ParsedStream()
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        _read_documents(loader, stream)
    except _TooDeep as exc:
        stream.problems.append(ConfigProblem(_position(exc.mark), "", "nesting too deep"))
    except yaml.MarkedYAMLError as exc:
        stream.problems.append(ConfigProblem(_position(exc.problem_mark), "", _reason(exc)))
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        reason = f"unacceptable character #x{code:04x}: {exc.reason}"
        stream.problems.append(ConfigProblem(_position_of_index(text, exc.position), "", reason))
    except yaml.YAMLError as exc:
        stream.problems.append(ConfigProblem("input", "", f"not valid YAML: {exc}"))
    else:
        return stream
    finally:
        if loader is not None:
            loader.dispose()  # type: ignore[no-untyped-call]
    stream.complete = False
    return stream


def _read_documents(loader: _Loader, stream: ParsedStream) -> None:
    seen = 0
    while loader.check_node():
        seen += 1
        if seen > MAX_DOCUMENTS:
            problem = f"more than {MAX_DOCUMENTS} documents"
            stream.problems.append(ConfigProblem("input", "", problem))
            stream.complete = False
            return
        node = loader.get_node()
        if node is None or (isinstance(node, ScalarNode) and node.tag == f"{_TAG}null"):
            continue  # an empty document
        number = len(stream.documents) + 1
        converter = _Converter(loader)
        try:
            value = converter.convert(node, (), 1)
        except _TooDeep:
            converter.problems.append(((), "nesting too deep"))
            value = None
        except _TooLarge:
            too_large = f"more than {MAX_VALUES} values after expanding aliases"
            converter.problems.append(((), too_large))
            value = None
        label = document_label(number, value)
        for path, reason in converter.problems:
            stream.problems.append(ConfigProblem(label, render_path(path), reason))
        ok = not converter.problems
        stream.documents.append(ParsedDocument(number, node.start_mark.line + 1, value, ok))


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark | None = None) -> None:
        super().__init__("nesting too deep")
        self.mark = mark


class _TooLarge(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """A safe loader whose composer refuses to nest deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Converter:
    """Turns one document's node graph into JSON values, collecting (path, reason) problems."""

    def __init__(self, loader: _Loader) -> None:
        self.problems: list[tuple[tuple[PathPart, ...], str]] = []
        self._loader = loader
        self._values = 0
        self._open: set[int] = set()  # collection nodes on the current branch (cycle check)

    def convert(self, node: Node, path: tuple[PathPart, ...], depth: int) -> JSONValue:
        self._values += 1
        if self._values > MAX_VALUES:
            raise _TooLarge
        if depth > MAX_DEPTH:
            raise _TooDeep(node.start_mark)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._problem(path, node, "an alias refers to the value that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == f"{_TAG}seq":
                return [
                    self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode) and node.tag == f"{_TAG}map":
                return self._mapping(node, path, depth)
        finally:
            self._open.discard(id(node))
        self._problem(path, node, f"{_short(node.tag)} is not allowed")
        return None

    def _scalar(self, node: ScalarNode, path: tuple[PathPart, ...]) -> JSONValue:
        tag = node.tag
        try:
            if tag in _STRING_TAGS:
                return self._text(node, path)
            if tag == f"{_TAG}null":
                return None
            if tag == f"{_TAG}bool":
                return self._loader.construct_yaml_bool(node)
            if tag == f"{_TAG}int":
                return self._loader.construct_yaml_int(node)
            if tag == f"{_TAG}float":
                number = self._loader.construct_yaml_float(node)
                if math.isfinite(number):
                    return number
                self._problem(path, node, f"{_preview(node.value)} is not a finite number")
                return None
        except ValueError:
            kind = _TYPE_NAMES.get(tag, _short(tag))
            self._problem(path, node, f"{_preview(node.value)} cannot be read as {kind}")
            return None
        if tag == f"{_TAG}timestamp":
            self._problem(path, node, "dates and times are not allowed; quote the value")
        else:
            self._problem(path, node, f"{_short(tag)} is not allowed")
        return None

    def _mapping(self, node: MappingNode, path: tuple[PathPart, ...], depth: int) -> JSONValue:
        result: dict[str, JSONValue] = {}
        lines: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == f"{_TAG}merge":
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

    def _merge(
        self, into: dict[str, JSONValue], node: Node, path: tuple[PathPart, ...], depth: int
    ) -> None:
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

    def _text(self, node: ScalarNode, path: tuple[PathPart, ...]) -> str | None:
        """The string; ``\\ud83d\\ude00``-style escapes (as JSON writes them) are joined."""
        text = str(node.value)
        if _SURROGATE.search(text):
            try:
                return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                self._problem(path, node, "a string holds an unpaired surrogate (\\ud800-\\udfff)")
                return None
        return text

    def _key(self, node: Node, path: tuple[PathPart, ...]) -> str | None:
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

    def _problem(self, path: tuple[PathPart, ...], node: Node, reason: str) -> None:
        self.problems.append((path, f"{reason} (line {node.start_mark.line + 1})"))


def _decode(data: str | bytes) -> tuple[str, str | None]:
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_INPUT_BYTES:
        return "", f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB"
    if isinstance(data, str):
        return data, None
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        return "", f"not {exc.encoding} text: cannot decode byte {exc.start}: {exc.reason}"


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else f"{text[:limit]}...")


def _short(tag: str) -> str:
    return f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else tag


def _reason(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.problem and exc.context:
        mark, here = exc.context_mark, exc.problem_mark
        at = ""
        if mark is not None and (
            here is None or (mark.line, mark.column) != (here.line, here.column)
        ):
            at = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = f"{problem} ({exc.context}{at})"
    return problem


def _position(mark: yaml.Mark | None) -> str:
    if mark is None:
        return "input"
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _position_of_index(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"
