"""Roles are the Organization values of client certificates."""

from __future__ import annotations

import pytest

from kiln.machinery.roles import Role


@pytest.mark.parametrize(
    ("text", "role"),
    [("os:admin", Role.ADMIN), ("reader", Role.READER), ("etcd:backup", Role.ETCD_BACKUP)],
)
def test_parse(text: str, role: Role) -> None:
    assert Role.parse(text) is role


def test_parse_unknown() -> None:
    with pytest.raises(ValueError, match=r"unknown role 'root' \(known: os:admin, "):
        Role.parse("root")


def test_from_organizations_ignores_unknown() -> None:
    assert Role.from_organizations(["kiln", "os:operator"]) == {Role.OPERATOR}
