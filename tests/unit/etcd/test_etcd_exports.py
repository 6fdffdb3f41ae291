"""The public surface of kiln.machined.etcd is exactly what __all__ names, and every error
hangs from EtcdError as the tree in errors.py draws it."""

from __future__ import annotations

import kiln.machined.etcd as etcd
from kiln.errors import KilnError
from kiln.machined.etcd import errors


def isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetically (ruff's order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_names_exist_and_are_sorted() -> None:
    assert etcd.__all__ == sorted(etcd.__all__, key=isort_style)
    for name in etcd.__all__:
        assert hasattr(etcd, name), name


def test_no_unlisted_public_names() -> None:
    public = {
        name
        for name, value in vars(etcd).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("kiln.")
    }
    constants = {name for name in etcd.__all__ if name.isupper()}
    assert public == set(etcd.__all__) - constants


def test_every_error_is_an_etcd_error_drawn_in_the_tree() -> None:
    drawn = errors.__doc__ or ""
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, KilnError) and value is not KilnError
    ]
    assert len(classes) >= 10
    for cls in classes:
        assert issubclass(cls, etcd.EtcdError)
        assert cls.__name__ in drawn, cls.__name__
        assert hasattr(etcd, cls.__name__), cls.__name__


def test_temporary_errors_are_the_ones_worth_retrying() -> None:
    temporary = {
        cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, etcd.EtcdError) and cls.temporary
    }
    assert temporary == {
        "EtcdUnavailableError",
        "EtcdUnreachableError",
        "EtcdLearnerNotReadyError",
        "EtcdMemberIdTakenError",
        "EtcdTooManyLearnersError",
    }
