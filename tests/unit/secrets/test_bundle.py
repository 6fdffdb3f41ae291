"""The secrets bundle: generation, the file round trip, and every way a file can be wrong."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kiln.machinery.errors import SecretsError
from kiln.machinery.roles import Role
from kiln.machinery.secrets import CLIENT_VALIDITY, SecretsBundle, issue_client_certificate, tokens

OpensslVerify = Callable[..., None]
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
# "billion laughs": aliases that would expand to 10**9 values
_LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)


@pytest.fixture(scope="module")
def bundle() -> SecretsBundle:
    return SecretsBundle.generate()


def test_certificate_authorities_use_the_right_algorithms(bundle: SecretsBundle) -> None:
    assert isinstance(bundle.os_ca.key.private_key(), ed25519.Ed25519PrivateKey)
    for ca in (bundle.kubernetes_ca, bundle.etcd_ca, bundle.aggregator_ca):
        key = ca.key.private_key()
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == "secp256r1"
        remaining = ca.certificate.not_after - datetime.now(UTC)
        assert timedelta(days=3649) < remaining <= timedelta(days=3650)
    service_account = base64.b64decode(bundle.certs.k8s_service_account.key)
    assert service_account.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_generation_time_is_a_seam() -> None:
    later = SecretsBundle.generate(now=NOW)
    assert later.os_ca.certificate.not_after == NOW + timedelta(days=3650)


def test_every_ca_verifies(bundle: SecretsBundle, openssl_verify: OpensslVerify) -> None:
    for ca in (bundle.os_ca, bundle.kubernetes_ca, bundle.etcd_ca, bundle.aggregator_ca):
        cert = ca.certificate.x509()
        cert.verify_directly_issued_by(cert)
        openssl_verify(ca.certificate, ca.certificate)


def test_tokens_and_keys_have_their_formats(bundle: SecretsBundle) -> None:
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", bundle.secrets.bootstrap_token)
    assert re.fullmatch(r"[a-z0-9]{32,}", bundle.machine_token)
    assert len(base64.b64decode(bundle.secrets.secretbox_encryption_secret)) == 32
    for value in (bundle.cluster.id, bundle.cluster.secret):
        assert len(base64.urlsafe_b64decode(value + "=")) == 32


def test_bootstrap_tokens_always_match_and_differ() -> None:
    made = {tokens.bootstrap_token() for _ in range(500)}
    assert len(made) == 500
    assert all(tokens.BOOTSTRAP_TOKEN.match(token) for token in made)


def test_two_bundles_share_nothing() -> None:
    first, second = SecretsBundle.generate(), SecretsBundle.generate()
    assert first.cluster != second.cluster
    assert first.certs.os.key != second.certs.os.key
    assert first.machine_token != second.machine_token


def test_file_round_trip(bundle: SecretsBundle, tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(bundle.to_yaml())
    assert SecretsBundle.load(path) == bundle
    data = yaml.safe_load(path.read_text())
    assert list(data) == ["version", "cluster", "secrets", "machineToken", "certs"]
    assert data["version"] == "v1alpha1"
    assert set(data["certs"]) == {"os", "k8s", "k8sAggregator", "etcd", "k8sServiceAccount"}
    assert set(data["secrets"]) == {"bootstrapToken", "secretboxEncryptionSecret"}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _data(bundle: SecretsBundle) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(bundle.to_yaml())
    return data


def test_swapped_key_is_detected(bundle: SecretsBundle, tmp_path: Path) -> None:
    data = _data(bundle)
    certs = data["certs"]
    assert isinstance(certs, dict)
    certs["os"]["key"] = SecretsBundle.generate().certs.os.key
    path = _write(tmp_path, data)
    with pytest.raises(SecretsError) as caught:
        SecretsBundle.load(path)
    assert str(caught.value) == f"{path}: certs.os key does not match its certificate"


def test_keys_swapped_between_cas_are_detected(bundle: SecretsBundle, tmp_path: Path) -> None:
    data = _data(bundle)
    certs = data["certs"]
    assert isinstance(certs, dict)
    certs["k8s"]["key"], certs["etcd"]["key"] = certs["etcd"]["key"], certs["k8s"]["key"]
    with pytest.raises(SecretsError, match=r"certs\.k8s key does not match"):
        SecretsBundle.load(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["certs"].pop("etcd"), r"certs\.etcd: required"),
        (lambda d: d["certs"]["k8s"].update(crt="aGVsbG8="), r"certs\.k8s\.crt: .*PEM"),
        (lambda d: d.update(color="blue"), r"color: unknown key"),
        (
            lambda d: d["secrets"].update(bootstrapToken="abc"),
            r"secrets\.bootstrapToken: bootstrap",
        ),
        (lambda d: d.update(version="v2"), r"version: expected 'v1alpha1', got 'v2'"),
        (lambda d: d.update(machineToken=12345), r"machineToken: expected a string, got integer"),
    ],
)
def test_invalid_field_is_named(
    bundle: SecretsBundle,
    tmp_path: Path,
    change: Callable[[dict[str, object]], object],
    message: str,
) -> None:
    data = _data(bundle)
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(SecretsError, match=rf"^{re.escape(str(path))}: {message}"):
        SecretsBundle.load(path)


def test_several_problems_are_counted(bundle: SecretsBundle, tmp_path: Path) -> None:
    data = _data(bundle)
    del data["cluster"], data["machineToken"]
    with pytest.raises(SecretsError, match=r"cluster: required \(and 1 more\)$"):
        SecretsBundle.load(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("certs: [\n", r"line 2, column 1: expected the node content"),
        ("- a\n- b\n", "expected a mapping of secrets"),
        ("", "expected a mapping of secrets"),
        ("a: 1\na: 2\n", r"document 1: a: duplicate key \(lines 1 and 2\)"),
        ("a: 1\n---\nb: 2\n", "expected one YAML document, found 2"),
        (_LAUGHS, "document 1: more than 100000 values after expanding aliases"),
    ],
)
def test_unreadable_yaml(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    with pytest.raises(SecretsError, match=message):
        SecretsBundle.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match=r"missing\.yaml: cannot read: No such file"):
        SecretsBundle.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("role", list(Role))
def test_client_certificate_for_role(
    bundle: SecretsBundle, role: Role, openssl_verify: OpensslVerify
) -> None:
    issued = issue_client_certificate(bundle.os_ca, role)
    cert = issued.certificate
    cert.x509().verify_directly_issued_by(bundle.os_ca.certificate.x509())
    openssl_verify(bundle.os_ca.certificate, cert, "sslclient")
    assert cert.organizations == [role.value]
    assert isinstance(issued.key.private_key(), ec.EllipticCurvePrivateKey)
    remaining = cert.not_after - datetime.now(UTC)
    assert CLIENT_VALIDITY - timedelta(minutes=5) < remaining <= CLIENT_VALIDITY


def test_admin_common_name(bundle: SecretsBundle) -> None:
    assert issue_client_certificate(bundle.os_ca, Role.ADMIN).certificate.common_name == "admin"
    backup = issue_client_certificate(bundle.os_ca, Role.ETCD_BACKUP).certificate
    assert backup.common_name == "etcd-backup"
