"""Validation errors of files other than machine configs (secrets bundles, kilnconfigs) as one
line each, in the machine config loader's style: ``FILE: path.in.yaml[0]: reason``."""

from __future__ import annotations

from pydantic import ValidationError

from kiln.machinery.config.diagnostics import validation_problems


def problems(exc: ValidationError) -> list[str]:
    """Every problem in ``exc`` as ``path: reason`` (or just ``reason`` at the top level)."""
    return [
        f"{problem.path}: {problem.reason}" if problem.path else problem.reason
        for problem in validation_problems(exc, "")
    ]


def summary(source: str, exc: ValidationError) -> str:
    """One line: the source, the first problem, and how many more there are."""
    found = problems(exc)
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{source}: {found[0]}{more}" if found else f"{source}: invalid"
