"""A member's certificates: names, key usages, key type, files, and reuse while they fit."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from kiln.machined.etcd import (
    CLIENT_COMMON_NAME,
    EtcdCertificateError,
    EtcdCertificates,
    ensure_etcd_certificates,
    issue_etcd_certificates,
)
from kiln.machined.etcd.certs import RENEW_BEFORE, VALIDITY
from kiln.machinery.secrets import Certificate, CertificateAuthority, KeyAlgorithm

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ADDRESSES = ["10.5.0.2", "fd00::2"]


@pytest.fixture(scope="module")
def etcd_ca() -> CertificateAuthority:
    return CertificateAuthority.generate("etcd", KeyAlgorithm.ECDSA_P256, now=NOW)


def names(cert: Certificate) -> tuple[set[str], set[str]]:
    sans = cert.x509().extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(sans.get_values_for_type(x509.DNSName))
    return dns, {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}


def usages(cert: Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.x509().extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


def test_server_peer_and_client_certificates(etcd_ca: CertificateAuthority) -> None:
    certs = issue_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, now=NOW)

    assert names(certs.server.certificate) == (
        {"cp-1", "localhost"},
        {"127.0.0.1", "::1", "10.5.0.2", "fd00::2"},
    )
    assert names(certs.peer.certificate) == ({"cp-1"}, {"10.5.0.2", "fd00::2"})
    assert usages(certs.server.certificate) == usages(certs.peer.certificate) == {SERVER, CLIENT}
    assert usages(certs.client.certificate) == {CLIENT}
    assert certs.client.certificate.common_name == CLIENT_COMMON_NAME
    for issued in (certs.server, certs.peer, certs.client):
        cert = issued.certificate.x509()
        cert.verify_directly_issued_by(etcd_ca.certificate.x509())
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert issued.key.algorithm is KeyAlgorithm.ECDSA_P256
        assert cert.not_valid_after_utc == NOW.replace(microsecond=0) + VALIDITY
    assert certs.ca == etcd_ca.certificate


def test_addresses_are_checked_and_deduplicated(etcd_ca: CertificateAuthority) -> None:
    certs = issue_etcd_certificates(etcd_ca, "cp-1", ["10.5.0.2", "10.5.0.2", "127.0.0.1"])
    assert names(certs.peer.certificate)[1] == {"10.5.0.2", "127.0.0.1"}
    sans = certs.server.certificate.x509().extensions
    server_ips = sans.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = server_ips.get_values_for_type(x509.IPAddress)
    assert addresses.count(ipaddress.ip_address("127.0.0.1")) == 1
    with pytest.raises(EtcdCertificateError, match="not an IP address"):
        issue_etcd_certificates(etcd_ca, "cp-1", ["node-1"])
    with pytest.raises(EtcdCertificateError, match="hostname"):
        issue_etcd_certificates(etcd_ca, "", ADDRESSES)


def test_files_are_private_and_read_back(etcd_ca: CertificateAuthority, tmp_path: Path) -> None:
    certs = issue_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, now=NOW)
    paths = certs.write(tmp_path / "secrets" / "etcd")

    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    for path in paths.all():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in paths.directory.iterdir()) == sorted(p.name for p in paths.all())
    assert EtcdCertificates.load(paths.directory) == certs
    tls = paths.client_tls()
    assert (tls.ca, tls.cert, tls.key) == (paths.ca, paths.client_cert, paths.client_key)
    tls.ssl_context()  # the files load as a client TLS context


def test_unreadable_files_are_an_etcd_error(tmp_path: Path) -> None:
    with pytest.raises(EtcdCertificateError, match="cannot read"):
        EtcdCertificates.load(tmp_path)


def test_certificates_that_still_fit_are_kept(
    etcd_ca: CertificateAuthority, tmp_path: Path
) -> None:
    directory = tmp_path / "etcd"
    first = ensure_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, directory, now=NOW)
    before = {path: path.read_bytes() for path in first.all()}

    later = NOW + timedelta(days=100)
    again = ensure_etcd_certificates(
        etcd_ca, "cp-1", list(reversed(ADDRESSES)), directory, now=later
    )

    assert again == first
    assert {path: path.read_bytes() for path in again.all()} == before


@pytest.mark.parametrize(
    ("hostname", "addresses", "when", "other_ca"),
    [
        ("cp-2", ADDRESSES, NOW, False),  # renamed
        ("cp-1", ["10.5.0.9"], NOW, False),  # readdressed
        ("cp-1", ADDRESSES, NOW + VALIDITY - RENEW_BEFORE + timedelta(days=1), False),  # expiring
        ("cp-1", ADDRESSES, NOW, True),  # the cluster's etcd CA changed
    ],
)
def test_certificates_that_no_longer_fit_are_issued_again(
    etcd_ca: CertificateAuthority,
    tmp_path: Path,
    hostname: str,
    addresses: list[str],
    when: datetime,
    other_ca: bool,
) -> None:
    directory = tmp_path / "etcd"
    ensure_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, directory, now=NOW)
    before = EtcdCertificates.load(directory)
    ca = CertificateAuthority.generate("etcd", KeyAlgorithm.ECDSA_P256) if other_ca else etcd_ca

    ensure_etcd_certificates(ca, hostname, addresses, directory, now=when)

    after = EtcdCertificates.load(directory)
    assert after.server != before.server and after.peer != before.peer
    assert after.matches(ca, hostname, addresses, now=when)
    assert not before.matches(ca, hostname, addresses, now=when)


def test_a_damaged_file_is_replaced(etcd_ca: CertificateAuthority, tmp_path: Path) -> None:
    paths = ensure_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, tmp_path, now=NOW)
    paths.peer_key.write_bytes(b"garbage")
    ensure_etcd_certificates(etcd_ca, "cp-1", ADDRESSES, tmp_path, now=NOW)
    assert EtcdCertificates.load(tmp_path).matches(etcd_ca, "cp-1", ADDRESSES, now=NOW)
