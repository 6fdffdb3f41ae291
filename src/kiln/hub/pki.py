"""The hub's keys and certificates, made on first start and kept under ``DATA/pki``:

- ``ca.{crt,key}``: the hub CA. It signs every machine's client certificate (Join).
- ``server.{crt,key}``: the self-signed certificate both ports serve. Clients pin it: the
  admin's client config and ``--ca`` hold it, and every join token carries its SHA-256, so a
  machine that knows only a URL and a token verifies the hub before it sends anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets import (
    Certificate,
    CertificateAuthority,
    KeyAlgorithm,
    KeyPair,
    self_signed_server,
)

PKI_DIR = "pki"
SERVER_NAME = "kiln-hub"  # the name clients check the server certificate for
SERVER_VALIDITY = timedelta(days=3650)
CA_NAME = "kiln-hub-ca"


@dataclass(frozen=True)
class HubPki:
    ca: CertificateAuthority
    server_certificate: Certificate
    server_key: KeyPair


def load_or_create(data_dir: Path) -> HubPki:
    directory = data_dir / PKI_DIR
    files = {name: directory / name for name in ("ca.crt", "ca.key", "server.crt", "server.key")}
    if not all(path.exists() for path in files.values()):
        ca = CertificateAuthority.generate(CA_NAME, KeyAlgorithm.ECDSA_P256)
        server = self_signed_server(SERVER_NAME, SERVER_VALIDITY, dns_names=["localhost"])
        ensure_private_dir(directory)
        write_private_files(
            {
                files["ca.crt"]: ca.certificate.pem,
                files["ca.key"]: ca.key.pem,
                files["server.crt"]: server.certificate.pem,
                files["server.key"]: server.key.pem,
            }
        )
    ca = CertificateAuthority.from_pem(
        files["ca.crt"].read_bytes(), files["ca.key"].read_bytes(), "hub CA"
    )
    return HubPki(
        ca,
        Certificate.from_pem(files["server.crt"].read_bytes(), "hub server certificate"),
        KeyPair.from_pem(files["server.key"].read_bytes(), "hub server key"),
    )
