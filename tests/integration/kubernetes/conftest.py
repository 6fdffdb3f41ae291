"""Kubernetes integration tests: the real v1.20.2 server binaries, built once and cached."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "machined"))

from k8s_release import VERSION, release_dir


@pytest.fixture(scope="session")
def kubernetes_release() -> Path:
    """A directory laid out like the official release location, holding ``VERSION``."""
    directory = release_dir()
    assert (directory / VERSION / "bin" / "linux" / "amd64" / "kube-apiserver").is_file()
    return directory
