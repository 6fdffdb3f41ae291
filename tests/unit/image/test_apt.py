"""Resolving the lock's closure from apt's answers, and refusing a package with a wrong hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.image import apt
from kiln.image.errors import LockError, PackageError
from kiln.image.lock import LockedPackage

STANZAS = {
    "app": "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: libfoo (>= 1), "
    "debconf | debconf-2.0, virtual-thing | libreal\nPre-Depends: libc6\n",
    "libfoo": "Package: libfoo\nVersion: 2\nArchitecture: amd64\nDepends: libc6:any\n",
    "libreal": "Package: libreal\nVersion: 3\nArchitecture: amd64\n",
    "libc6": "Package: libc6\nVersion: 2.36\nArchitecture: amd64\n",
}


def _fields(text: str) -> dict[str, str]:
    fields = apt.parse_stanza(text)
    fields |= {"SHA256": "0" * 64, "Size": "1", "Filename": f"pool/{fields['Package']}.deb"}
    return fields


@pytest.fixture
def fake_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    async def show(name: str) -> dict[str, str] | None:
        return _fields(STANZAS[name]) if name in STANZAS else None

    monkeypatch.setattr(apt, "show", show)


def test_stanza_fields_and_dependency_groups() -> None:
    fields = apt.parse_stanza(STANZAS["app"] + "Description: one\n two\n")
    assert fields["Description"] == "one\ntwo"
    assert apt.dependency_groups(fields) == [
        ["libc6"],
        ["libfoo"],
        ["debconf", "debconf-2.0"],
        ["virtual-thing", "libreal"],
    ]


async def test_resolution_follows_dependencies_leaving_out_the_excluded(fake_apt: None) -> None:
    packages = await apt.resolve(["app"], ["debconf", "debconf-2.0"])
    assert [(p.name, p.version) for p in packages] == [
        ("app", "1"),
        ("libc6", "2.36"),
        ("libfoo", "2"),
        ("libreal", "3"),
    ]


async def test_a_root_apt_does_not_know_is_an_error(fake_apt: None) -> None:
    with pytest.raises(LockError, match="nosuch: apt has no candidate"):
        await apt.resolve(["nosuch"], [])


async def test_an_unsatisfiable_dependency_is_an_error(fake_apt: None) -> None:
    with pytest.raises(LockError, match=r"app: no installable package for debconf \| debconf-2.0"):
        await apt.resolve(["app"], [])


def test_a_package_with_another_hash_is_refused(tmp_path: Path) -> None:
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"not what was locked")
    locked = LockedPackage("x", "1", "amd64", "f" * 64, 19, "pool/x.deb")
    with pytest.raises(PackageError, match=r"x 1: x.deb has SHA-256 .* the lock says f{64}"):
        apt.verify_package(deb, locked)
    apt.verify_package(deb, LockedPackage("x", "1", "amd64", apt.sha256_file(deb), 19, "p/x"))
