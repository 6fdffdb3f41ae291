"""Label selectors, written as in Kubernetes.

``key=value`` (or ``==``), ``key!=value``, ``key`` (exists), ``!key`` (does not exist),
``key in (a,b)`` and ``key notin (a,b)``, joined by commas; all must hold::

    Selector.parse("role=controlplane,zone in (a,b),!cordoned").matches(labels)

As in Kubernetes, ``!=`` and ``notin`` also match resources without the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from kiln.resources.errors import SelectorError

_TOKEN = re.compile(r"\s*(?:(!=|==|=|!|,|\(|\))|([^\s,=!()]+))")


class Operator(StrEnum):
    """How a requirement tests one label."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    NOT_EXISTS = "!"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One condition on one label key."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case Operator.EXISTS:
                return value is not None
            case Operator.NOT_EXISTS:
                return value is None
            case Operator.EQUALS | Operator.IN:
                return value is not None and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return value is None or value not in self.values

    def __str__(self) -> str:
        match self.operator:
            case Operator.EXISTS:
                return self.key
            case Operator.NOT_EXISTS:
                return f"!{self.key}"
            case Operator.EQUALS | Operator.NOT_EQUALS:
                return f"{self.key}{self.operator}{self.values[0]}"
            case Operator.IN | Operator.NOT_IN:
                return f"{self.key} {self.operator} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True)
class Selector:
    """Requirements that must all hold. The empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse selector text; raise SelectorError naming the offending text."""
        return cls(tuple(_Parser(text).parse()))

    @classmethod
    def equal(cls, labels: Mapping[str, str]) -> Selector:
        """A selector requiring each of ``labels`` to have exactly its value."""
        return cls(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items()))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def as_selector(selector: Selector | str | None) -> Selector | None:
    """Accept a parsed selector, selector text or None; empty selectors become None."""
    if isinstance(selector, str):
        selector = Selector.parse(selector)
    return selector or None


class _Parser:
    """Recursive descent over tokens: operators, commas, parentheses and words."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[int, str, bool]] = []  # (offset, text, is_word)
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                if text[pos:].strip():
                    self.fail(pos, "unexpected character")
                break
            symbol, word = match.group(1), match.group(2)
            if symbol is None and word is None:  # trailing whitespace
                break
            start = match.start(1) if symbol is not None else match.start(2)
            self.tokens.append((start, symbol or word, word is not None))
            pos = match.end()
        self.index = 0

    def fail(self, offset: int, reason: str) -> NoReturn:
        raise SelectorError(self.text, f"{reason} at offset {offset}")

    def peek(self) -> tuple[int, str, bool] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[int, str, bool]:
        token = self.peek()
        if token is None:
            self.fail(len(self.text), "unexpected end")
        self.index += 1
        return token

    def word(self, what: str) -> str:
        offset, text, is_word = self.take()
        if not is_word:
            self.fail(offset, f"expected {what}, found {text!r}")
        return text

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        if not self.tokens:
            return requirements
        while True:
            requirements.append(self.requirement())
            token = self.peek()
            if token is None:
                return requirements
            if token[1] != "," or token[2]:
                self.fail(token[0], f"expected ',', found {token[1]!r}")
            self.take()

    def requirement(self) -> Requirement:
        token = self.peek()
        if token is not None and token[1] == "!" and not token[2]:
            self.take()
            return Requirement(self.word("a label key"), Operator.NOT_EXISTS)
        key = self.word("a label key")
        token = self.peek()
        if token is None or (token[1] == "," and not token[2]):
            return Requirement(key, Operator.EXISTS)
        offset, text, is_word = self.take()
        if not is_word and text in ("=", "==", "!="):
            operator = Operator.NOT_EQUALS if text == "!=" else Operator.EQUALS
            following = self.peek()
            if following is None or not following[2]:  # `key=` selects the empty value
                return Requirement(key, operator, ("",))
            return Requirement(key, operator, (self.take()[1],))
        if is_word and text in ("in", "notin"):
            return Requirement(key, Operator(text), self.value_set())
        self.fail(offset, f"expected an operator after {key!r}, found {text!r}")

    def value_set(self) -> tuple[str, ...]:
        offset, text, _ = self.take()
        if text != "(":
            self.fail(offset, f"expected '(', found {text!r}")
        values: list[str] = []
        while True:
            values.append(self.word("a value"))
            offset, text, is_word = self.take()
            if text == ")" and not is_word:
                return tuple(values)
            if text != "," or is_word:
                self.fail(offset, f"expected ',' or ')', found {text!r}")
