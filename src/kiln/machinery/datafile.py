"""Read one-document YAML data files (secrets bundles, kilnconfigs) into validated models.

Parsing uses the machine config loader's strict, bounded YAML reader (no duplicate keys, no
non-string keys, limits on size and alias expansion), and problems are reported in its style:
``FILE: path.in.yaml[0]: reason``. Every failure is one line in the caller's error type, with the
number of further problems when there are several.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from kiln.machinery.config.diagnostics import validation_problems
from kiln.machinery.config.yamlparse import MAX_INPUT_BYTES, parse_yaml
from kiln.machinery.errors import MachineryError

_Model = TypeVar("_Model", bound=BaseModel)


def read_file(path: Path, error: type[MachineryError]) -> bytes:
    """The bytes of ``path``; ``error`` naming the file if it cannot be read or is too large."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise error(f"{path}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    return data


def parse_model(
    model: type[_Model],
    data: str | bytes,
    source: str,
    error: type[MachineryError],
    *,
    expected: str,
    empty_ok: bool = False,
) -> _Model:
    """Parse ``data`` as one YAML mapping and validate it as ``model``.

    ``expected`` completes "expected ..." when the document is not a mapping; an empty input is
    an empty mapping if ``empty_ok``.
    """
    stream = parse_yaml(data)
    if stream.problems:
        raise error(_one_line(source, [str(problem) for problem in stream.problems]))
    if len(stream.documents) > 1:
        raise error(f"{source}: expected one YAML document, found {len(stream.documents)}")
    value = stream.documents[0].value if stream.documents else None
    if value is None and empty_ok:
        value = {}
    if not isinstance(value, dict):
        raise error(f"{source}: expected {expected}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise error(_one_line(source, problems(exc))) from None


def problems(exc: ValidationError) -> list[str]:
    """Every problem in ``exc`` as ``path: reason`` (or just ``reason`` at the top level)."""
    return [
        f"{problem.path}: {problem.reason}" if problem.path else problem.reason
        for problem in validation_problems(exc, "")
    ]


def _one_line(source: str, found: list[str]) -> str:
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{source}: {found[0]}{more}" if found else f"{source}: invalid"
