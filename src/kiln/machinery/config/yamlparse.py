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

from dataclasses import dataclass, field

import yaml
from yaml.nodes import Node, ScalarNode

from kiln.machinery.config.paths import render_path
from kiln.machinery.config.yamlnodes import (
    MAX_DEPTH,
    MAX_VALUES,
    TAG,
    JSONValue,
    NodeConverter,
    TooDeep,
    TooLarge,
)
from kiln.machinery.errors import ConfigProblem

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_INPUT_BYTES",
    "MAX_VALUES",
    "JSONValue",
    "ParsedDocument",
    "ParsedStream",
    "document_label",
    "parse_yaml",
]

MAX_INPUT_BYTES = 4 * 1024 * 1024
MAX_DOCUMENTS = 100


@dataclass(frozen=True)
class ParsedDocument:
    """One non-empty document of a stream; ``ok`` is false if it had problems of its own."""

    number: int  # 1-based, counting non-empty documents
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
    except TooDeep as exc:
        stream.problems.append(ConfigProblem(_position(exc.mark), "", "nesting too deep"))
    except TooLarge as exc:
        reason = f"more than {MAX_VALUES} values"
        stream.problems.append(ConfigProblem(_position(exc.mark), "", reason))
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
        if node is None or (isinstance(node, ScalarNode) and node.tag == f"{TAG}null"):
            continue  # an empty document
        number = len(stream.documents) + 1
        converter = NodeConverter(loader)
        try:
            value = converter.convert(node, (), 1)
        except TooDeep:
            converter.problems.append(((), "nesting too deep"))
            value = None
        except TooLarge:
            too_large = f"more than {MAX_VALUES} values after expanding aliases"
            converter.problems.append(((), too_large))
            value = None
        label = document_label(number, value)
        for path, reason in converter.problems:
            stream.problems.append(ConfigProblem(label, render_path(path), reason))
        ok = not converter.problems
        stream.documents.append(ParsedDocument(number, value, ok))


class _Loader(yaml.SafeLoader):
    """A safe loader whose composer stops at :data:`MAX_DEPTH` levels or :data:`MAX_VALUES` nodes.

    Stopping while composing, before the whole input is even scanned, keeps a large or deeply
    nested input from costing more than a legitimate config would.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            if self._nodes > MAX_VALUES:
                raise TooLarge(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
