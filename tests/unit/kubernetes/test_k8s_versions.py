"""The compatibility table: which versions run, and what old releases need."""

from __future__ import annotations

import pytest

from kiln.machined.kubernetes.errors import KubernetesVersionError
from kiln.machined.kubernetes.versions import SUPPORTED, Version, compatibility
from kiln.machinery.config.model import DEFAULT_KUBERNETES_VERSION


@pytest.mark.parametrize("version", ["v1.32.0", "v1.33.5", "v1.35.2", "v1.36.0", "v1.36.4"])
def test_current_releases_are_supported(version: str) -> None:
    entry = compatibility(version)
    assert entry.minor == Version.parse(version).minor_release
    assert "insecure-port" not in entry.apiserver_flags  # removed upstream in v1.24
    assert "port" not in entry.controller_manager_flags


def test_the_default_version_is_supported() -> None:
    assert compatibility(DEFAULT_KUBERNETES_VERSION).minor == "v1.36"


def test_v1_20_closes_its_insecure_ports() -> None:
    entry = compatibility("v1.20.2")
    assert entry.apiserver_flags["insecure-port"] == "0"
    assert entry.controller_manager_flags["port"] == "0"
    assert entry.scheduler_flags["port"] == "0"


@pytest.mark.parametrize("version", ["v1.31.9", "v1.21.0", "v1.37.0", "v2.0.0"])
def test_other_versions_are_refused_naming_the_supported_ones(version: str) -> None:
    with pytest.raises(KubernetesVersionError) as refused:
        compatibility(version)
    assert f"Kubernetes {version} is not supported" in str(refused.value)
    assert "v1.32" in str(refused.value) and "v1.36" in str(refused.value)


def test_malformed_versions_are_refused() -> None:
    with pytest.raises(KubernetesVersionError, match="not a Kubernetes version"):
        compatibility("latest")


def test_versions_order_by_number_not_text() -> None:
    assert Version.parse("v1.36.10") > Version.parse("v1.36.9") > Version.parse("1.32.0")
    assert str(Version.parse("1.32.0")) == "v1.32.0"
    assert SUPPORTED[0] == "v1.20" and SUPPORTED[-1] == "v1.36"
