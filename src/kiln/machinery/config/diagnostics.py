"""Turn pydantic validation errors into :class:`ConfigProblem` lines a user can act on.

Each error becomes ``document 1 (MachineConfig): machine.network.interfaces[0].mtu: expected an
integer, got string``: the document, the path as written in YAML (camelCase, ``[i]`` for list
items, quoted keys where needed) and a short, lowercase reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kiln.machinery.config.paths import render_path
from kiln.machinery.errors import ConfigProblem

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_BOUNDS = {
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
}

_KEY_MARK = "[key]"  # pydantic marks errors about a mapping's key (not its value) this way


def validation_problems(exc: ValidationError, document: str) -> list[ConfigProblem]:
    """One problem per error in ``exc``, all labelled with ``document``."""
    found: list[ConfigProblem] = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        about_key = bool(loc) and loc[-1] == _KEY_MARK
        if about_key:
            loc.pop()
        reason = _reason(error)
        if about_key:
            reason = f"invalid key: {reason}"
        found.append(ConfigProblem(document, render_path(loc), reason))
    return found


def type_name(value: object) -> str:
    """What a YAML user would call the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def preview(value: object, limit: int = 60) -> str:
    """A short ``repr`` of a user's value, cut so huge inputs stay one readable line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {type_name(error['input'])}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "one of the listed values")
        return f"expected {expected}, got {preview(error['input'])}"
    if kind in _BOUNDS:
        try:
            return _BOUNDS[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]
