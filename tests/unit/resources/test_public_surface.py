"""The package's public surface: every error is exported and drawn in the error tree."""

from __future__ import annotations

import inspect

import kiln.resources
from kiln.errors import KilnError
from kiln.resources import errors


def test_every_resource_error_is_exported_and_in_the_documented_tree() -> None:
    defined = {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.ResourceError) and value.__module__ == errors.__name__
    }
    assert defined <= set(kiln.resources.__all__)
    assert errors.__doc__ is not None
    drawn = {line.split()[1] for line in errors.__doc__.splitlines() if "──" in line}
    assert drawn == defined
    assert issubclass(errors.ResourceError, KilnError)


def test_exports_resolve() -> None:
    missing = [name for name in kiln.resources.__all__ if not hasattr(kiln.resources, name)]
    assert missing == []
    assert sorted(kiln.resources.__all__) == kiln.resources.__all__
