"""The certificates of one etcd member, issued by the cluster's etcd CA.

Three leaf certificates with ECDSA P-256 keys, each for server *and* client authentication:

- **server** (client-facing port): SANs the hostname, ``localhost``, ``127.0.0.1``, ``::1`` and
  the node's addresses. etcd also dials itself with it (its gRPC gateway), hence clientAuth.
- **peer** (member-to-member port): SANs the hostname and the node's addresses. etcd checks that
  a peer connecting to it comes from an address its certificate names.
- **client** (the node's own etcd client, later kube-apiserver): clientAuth only, CN
  :data:`CLIENT_COMMON_NAME`.

They live in one secrets directory, each file 0600, written all at once::

    ca.crt  server.crt  server.key  peer.crt  peer.key  client.crt  client.key

:func:`ensure_etcd_certificates` keeps what is there while it still fits (same CA, same names,
far enough from expiry) and issues new ones otherwise.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from kiln.machined.etcd.errors import EtcdCertificateError
from kiln.machined.etcd.tls import EtcdClientTLS
from kiln.machinery.errors import MachineryError
from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets import Certificate, CertificateAuthority, IssuedCertificate, Usage
from kiln.machinery.secrets.keys import KeyPair, public_key_der

CLIENT_COMMON_NAME = "kiln-etcd-client"
VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
"""Certificates closer than this to expiry are issued again instead of reused."""

LOCAL_DNS = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class EtcdCertPaths:
    """Where the member's certificate files are (they may not exist yet)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def peer_cert(self) -> Path:
        return self.directory / "peer.crt"

    @property
    def peer_key(self) -> Path:
        return self.directory / "peer.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def all(self) -> tuple[Path, ...]:
        return (
            self.ca,
            self.server_cert,
            self.server_key,
            self.peer_cert,
            self.peer_key,
            self.client_cert,
            self.client_key,
        )

    def client_tls(self) -> EtcdClientTLS:
        """The files an etcd client of this node uses."""
        return EtcdClientTLS(self.ca, self.client_cert, self.client_key)


@dataclass(frozen=True)
class EtcdCertificates:
    """The CA certificate and the three issued certificates of one member."""

    ca: Certificate
    server: IssuedCertificate
    peer: IssuedCertificate
    client: IssuedCertificate

    def write(self, directory: str | os.PathLike[str]) -> EtcdCertPaths:
        """Write every file (0600) atomically into ``directory`` (made 0700 if missing)."""
        paths = EtcdCertPaths(Path(directory))
        files: dict[Path, bytes] = {
            paths.ca: self.ca.pem,
            paths.server_cert: self.server.certificate.pem,
            paths.server_key: self.server.key.pem,
            paths.peer_cert: self.peer.certificate.pem,
            paths.peer_key: self.peer.key.pem,
            paths.client_cert: self.client.certificate.pem,
            paths.client_key: self.client.key.pem,
        }
        try:
            ensure_private_dir(paths.directory)
            write_private_files(files)
        except OSError as exc:
            raise EtcdCertificateError(
                f"cannot write etcd certificates to {paths.directory}: {exc}"
            ) from exc
        return paths

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> EtcdCertificates:
        """Read the files :meth:`write` wrote; :class:`EtcdCertificateError` if one is missing
        or invalid."""
        paths = EtcdCertPaths(Path(directory))
        try:

            def issued(cert: Path, key: Path) -> IssuedCertificate:
                return IssuedCertificate(
                    Certificate.from_pem(cert.read_bytes(), str(cert)),
                    KeyPair.from_pem(key.read_bytes(), str(key)),
                )

            return cls(
                Certificate.from_pem(paths.ca.read_bytes(), str(paths.ca)),
                issued(paths.server_cert, paths.server_key),
                issued(paths.peer_cert, paths.peer_key),
                issued(paths.client_cert, paths.client_key),
            )
        except (OSError, MachineryError) as exc:
            raise EtcdCertificateError(f"cannot read etcd certificates: {exc}") from exc

    def matches(
        self,
        etcd_ca: CertificateAuthority,
        hostname: str,
        addresses: Sequence[str],
        *,
        now: datetime | None = None,
    ) -> bool:
        """Whether these certificates are what :func:`issue_etcd_certificates` would make now:
        signed by ``etcd_ca``, keys matching, the same names, not near expiry."""
        if self.ca.pem != etcd_ca.certificate.pem:
            return False
        server_dns, server_ips = server_names(hostname, addresses)
        wanted = [
            (self.server, hostname, server_dns, server_ips),
            (self.peer, hostname, [hostname], normalize_addresses(addresses)),
            (self.client, CLIENT_COMMON_NAME, [], []),
        ]
        moment = now or datetime.now(UTC)
        return all(
            _fits(issued, etcd_ca, name, dns, ips, moment) for issued, name, dns, ips in wanted
        )


def normalize_addresses(addresses: Sequence[str]) -> list[str]:
    """IP addresses in canonical form, duplicates dropped, order kept."""
    seen: list[str] = []
    for address in addresses:
        try:
            text = str(ipaddress.ip_address(address))
        except ValueError:
            raise EtcdCertificateError(f"{address!r} is not an IP address") from None
        if text not in seen:
            seen.append(text)
    return seen


def server_names(hostname: str, addresses: Sequence[str]) -> tuple[list[str], list[str]]:
    """The DNS and IP SANs of the server certificate."""
    dns = list(dict.fromkeys([hostname, *LOCAL_DNS]))
    return dns, normalize_addresses([*LOCAL_IPS, *addresses])


def issue_etcd_certificates(
    etcd_ca: CertificateAuthority,
    hostname: str,
    addresses: Sequence[str],
    *,
    valid_for: timedelta = VALIDITY,
    now: datetime | None = None,
) -> EtcdCertificates:
    """New server, peer and client certificates for the member on ``hostname`` reachable at
    ``addresses``."""
    if not hostname:
        raise EtcdCertificateError("an etcd member needs a hostname for its certificates")
    server_dns, server_ips = server_names(hostname, addresses)
    try:
        server = etcd_ca.issue(
            hostname, Usage.PEER, valid_for, dns_names=server_dns, ip_addresses=server_ips, now=now
        )
        peer = etcd_ca.issue(
            hostname,
            Usage.PEER,
            valid_for,
            dns_names=[hostname],
            ip_addresses=normalize_addresses(addresses),
            now=now,
        )
        client = etcd_ca.issue(CLIENT_COMMON_NAME, Usage.CLIENT, valid_for, now=now)
    except MachineryError as exc:
        raise EtcdCertificateError(f"cannot issue etcd certificates: {exc}") from exc
    return EtcdCertificates(etcd_ca.certificate, server, peer, client)


def ensure_etcd_certificates(
    etcd_ca: CertificateAuthority,
    hostname: str,
    addresses: Sequence[str],
    directory: str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> EtcdCertPaths:
    """The member's certificate files in ``directory``: those already there if they still
    match (:meth:`EtcdCertificates.matches`), else newly issued ones."""
    try:
        existing: EtcdCertificates | None = EtcdCertificates.load(directory)
    except EtcdCertificateError:
        existing = None
    if existing is not None and existing.matches(etcd_ca, hostname, addresses, now=now):
        return EtcdCertPaths(Path(directory))
    return issue_etcd_certificates(etcd_ca, hostname, addresses, now=now).write(directory)


def _fits(
    issued: IssuedCertificate,
    etcd_ca: CertificateAuthority,
    common_name: str,
    dns: Sequence[str],
    ips: Sequence[str],
    now: datetime,
) -> bool:
    cert = issued.certificate.x509()
    try:
        cert.verify_directly_issued_by(etcd_ca.certificate.x509())
    except (ValueError, TypeError, InvalidSignature):
        return False
    if public_key_der(issued.key.public_key()) != _public_key_der(cert):
        return False
    if issued.certificate.common_name != common_name:
        return False
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - RENEW_BEFORE:
        return False
    return _sans(cert) == (set(dns), set(ips))


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return dns, ips


def _public_key_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
