"""Fixtures for secrets tests: a real `openssl verify` of certificates against their CA."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.machinery.secrets import Certificate

OpensslVerify = Callable[..., None]


@pytest.fixture
def openssl_verify(tmp_path: Path) -> OpensslVerify:
    """Check a certificate against a CA with `openssl verify`; fail the test if it fails."""

    def verify(ca: Certificate, leaf: Certificate, purpose: str | None = None) -> None:
        ca_file, leaf_file = tmp_path / "ca.pem", tmp_path / "leaf.pem"
        ca_file.write_bytes(ca.pem)
        leaf_file.write_bytes(leaf.pem)
        argv = ["openssl", "verify", "-CAfile", str(ca_file)]
        if purpose:
            argv += ["-purpose", purpose]
        result = subprocess.run(
            [*argv, str(leaf_file)], capture_output=True, text=True, check=False, timeout=30
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith(": OK")

    return verify
