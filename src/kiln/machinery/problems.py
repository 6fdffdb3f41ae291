"""Turn pydantic validation errors into ``path: reason`` problems users can act on.

Paths are written as they appear in the YAML file (``certs.os.crt``,
``contexts.prod.endpoints[0]``) and reasons are short and lowercase.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def location(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a YAML path: ``a.b[0].c``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def problems(exc: ValidationError) -> list[str]:
    """Every problem in ``exc`` as ``path: reason`` (or just ``reason`` at the top level)."""
    found: list[str] = []
    for error in exc.errors(include_url=False):
        reason = _REASONS.get(error["type"], _reason(error["msg"]))
        path = location(error["loc"])
        found.append(f"{path}: {reason}" if path else reason)
    return found


def summary(source: str, exc: ValidationError) -> str:
    """One line: the source, the first problem, and how many more there are."""
    found = problems(exc)
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{source}: {found[0]}{more}" if found else f"{source}: invalid"


def _reason(message: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]
