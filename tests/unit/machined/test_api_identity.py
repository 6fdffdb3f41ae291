"""The API identity a node keeps between boots, what the early server starts with, and the
roles read from the subject the TLS layer reports."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from kiln.machined.api.auth import organizations_of
from kiln.machined.api.identity import (
    IdentityInputs,
    KeptIdentity,
    ServerIdentity,
    keep,
    load_kept,
    maintenance_identity,
)
from kiln.machined.api.tls import configured_identity
from kiln.machined.early import early_identity
from kiln.machined.statefiles import CONFIG_FILE, STAGED_FILE
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.secrets import SecretsBundle

# As grpc reports the subject of a certificate with CN 'we,ird+"cn=\x' and the organizations
# "os:admin", "a,O=os:etcd:backup" and "é+ü" (RFC 2253 escapes, UTF-8 bytes in hex).
SUBJECT = b'CN=we\\,ird\\+\\"cn=\\\\x,O=\\C3\\A9\\+\\C3\\BC,O=a\\,O=os:etcd:backup,O=os:admin'


def test_organizations_come_from_the_subject_with_its_escapes_resolved() -> None:
    assert organizations_of(SUBJECT) == {"os:admin", "a,O=os:etcd:backup", "é+ü"}


def test_an_escaped_separator_never_makes_an_organization() -> None:
    assert organizations_of(b"CN=x\\,O=os:admin") == frozenset()
    assert organizations_of(b"CN=x\\+O=os:admin,O=os:reader") == {"os:reader"}
    assert organizations_of(b"O=#0c086f733a61646d696e") == {"#0c086f733a61646d696e"}


def test_a_multi_valued_name_counts_each_value() -> None:
    assert organizations_of(b"CN=n+O=os:operator") == {"os:operator"}


def _inputs(ca: bytes = b"ca", **changes: object) -> IdentityInputs:
    import hashlib

    values: dict[str, object] = {
        "names": ("localhost", "127.0.0.1"),
        "ca_sha256": hashlib.sha256(ca).hexdigest(),
        "not_after": time.time() + timedelta(days=365).total_seconds(),
        "node_name": "cp-1",
    }
    values.update(changes)
    return IdentityInputs(**values)  # type: ignore[arg-type]


def test_a_kept_identity_serves_the_same_names_and_ca_until_renewal() -> None:
    inputs = _inputs()
    assert inputs.serves(("localhost", "127.0.0.1"), b"ca")
    assert not inputs.serves(("localhost",), b"ca")
    assert not inputs.serves(("localhost", "127.0.0.1"), b"another ca")
    soon = _inputs(not_after=time.time() + timedelta(days=10).total_seconds())
    assert not soon.serves(("localhost", "127.0.0.1"), b"ca")


def test_kept_identity_round_trips_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    kept = KeptIdentity(ServerIdentity(b"key", b"crt", b"ca"), _inputs())
    keep(tmp_path, kept)
    assert load_kept(tmp_path) == kept
    assert (tmp_path / "api" / "tls.key").stat().st_mode & 0o777 == 0o600
    (tmp_path / "api" / "inputs.json").write_text("{not json")
    assert load_kept(tmp_path) is None


def test_a_control_plane_reuses_its_certificate_while_ca_and_names_stay(tmp_path: Path) -> None:
    config = generate_configs("t", "https://127.50.0.1:6443", SecretsBundle.generate()).controlplane
    first = configured_identity(config, ["127.50.0.1"], tmp_path, "cp-1")
    assert configured_identity(config, ["127.50.0.1"], tmp_path, "cp-1") == first
    renamed = configured_identity(config, ["127.50.0.1"], tmp_path, "cp-renamed")
    assert renamed == first
    kept = load_kept(tmp_path)
    assert kept is not None and kept.inputs.node_name == "cp-renamed"
    moved = configured_identity(config, ["127.50.0.9"], tmp_path, "cp-1")
    assert moved.certificate != first.certificate
    other = generate_configs("t", "https://127.50.0.1:6443", SecretsBundle.generate())
    again = configured_identity(other.controlplane, ["127.50.0.9"], tmp_path, "cp-1")
    assert again.client_ca != first.client_ca


def test_the_early_server_serves_what_the_last_boot_served(tmp_path: Path) -> None:
    first = early_identity(tmp_path / "state")  # first start: made early, kept for later
    assert first is not None and first[1] is None
    assert first[0] == maintenance_identity(tmp_path / "state")
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    maintenance = maintenance_identity(tmp_path)
    assert early_identity(tmp_path) == (maintenance, None)
    (tmp_path / CONFIG_FILE).write_text("stored")
    assert early_identity(tmp_path) is None  # configured, but nothing kept (a worker)
    kept = KeptIdentity(ServerIdentity(b"key", b"crt", b"ca"), _inputs())
    keep(tmp_path, kept)
    assert early_identity(tmp_path) == (kept.identity, "cp-1")
    (tmp_path / STAGED_FILE).write_text("staged")
    assert early_identity(tmp_path) is None  # a staged config may change it: the boot decides
