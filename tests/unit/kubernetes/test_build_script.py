"""scripts/build-kubernetes: the deb-src entry comes from the machine's own apt sources, the
cache is keyed by the Debian version and holds the upstream version the package really is."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "build-kubernetes"


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("build_kubernetes", str(SCRIPT))
    spec = importlib.util.spec_from_loader("build_kubernetes", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    monkeypatch.setattr(module, "SOURCES_DIR", tmp_path)
    monkeypatch.setattr(module, "SOURCES_FILE", tmp_path / "kiln-bookworm-src.sources")
    return module


def test_the_archive_comes_from_a_deb822_source(script: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://archive.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert script.archive_for_suite() == (
        "http://archive.example/debian",
        "/usr/share/keyrings/debian-archive-keyring.gpg",
    )


def test_the_archive_comes_from_a_one_line_source(script: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "mirror.list").write_text(
        "deb [signed-by=/k.gpg] http://mirror.example/debian bookworm main\n"
    )
    assert script.archive_for_suite() == ("http://mirror.example/debian", "/k.gpg")


def test_no_bookworm_source_is_a_clear_error(script: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "other.list").write_text("deb http://mirror.example/debian trixie main\n")
    with pytest.raises(script.BuildError, match="no apt source for Debian bookworm"):
        script.archive_for_suite()


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [("1.20.5+really1.20.2-1.1+deb12u1", "v1.20.2"), ("1:1.36.0-2", "v1.36.0")],
)
def test_the_kubernetes_version_of_a_package(
    script: ModuleType, debian: str, upstream: str
) -> None:
    assert script.kubernetes_version(debian) == upstream


def test_a_cache_is_complete_only_with_every_binary_and_digest(
    script: ModuleType, tmp_path: Path
) -> None:
    bindir = tmp_path / "v1.20.2" / "bin" / "linux" / "amd64"
    bindir.mkdir(parents=True)
    for name in script.BINARIES:
        (bindir / name).write_bytes(b"x")
    assert not script.complete(tmp_path, "v1.20.2")
    for name in script.BINARIES:
        (bindir / f"{name}.sha256").write_text("0" * 64)
    assert script.complete(tmp_path, "v1.20.2")
