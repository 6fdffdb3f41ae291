"""The public surface of kiln.machined.services is exactly what __all__ names."""

from __future__ import annotations

import kiln.machined.services as services


def test_all_names_exist_and_are_sorted() -> None:
    assert services.__all__ == sorted(services.__all__)
    for name in services.__all__:
        assert hasattr(services, name), name


def test_no_unlisted_public_names() -> None:
    public = {
        name
        for name, value in vars(services).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("kiln.")
    }
    assert public == set(services.__all__)
