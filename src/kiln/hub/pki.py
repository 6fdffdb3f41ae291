"""The hub's keys and certificates, made by the first replica that starts on a database and
kept in it (a HubPki resource), so that every replica serves the same certificate and signs
with the same CA:

- the hub CA signs every machine's client certificate (Join) and the replicas' own client
  certificates for calls between them;
- the self-signed server certificate both ports serve. Clients pin it: the admin's client
  config and ``--ca`` (``DATA/pki/server.crt``, written by each replica) hold it, and every
  join token carries its SHA-256, so a machine that knows only a URL and a token verifies the
  hub before it sends anything.

A hub from before the PKI moved into the database has it in ``DATA/pki``: it is taken over
from there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kiln.hub.resources import HubPkiSpec
from kiln.hub.resources.hub_pki import PKI_ID
from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets import (
    Certificate,
    CertificateAuthority,
    KeyAlgorithm,
    KeyPair,
    self_signed_server,
)
from kiln.resources import AlreadyExistsError, NotFoundError, Pointer, Resource, State, cast_spec

PKI_DIR = "pki"
SERVER_NAME = "kiln-hub"  # the name clients check the server certificate for
SERVER_VALIDITY = timedelta(days=3650)
CA_NAME = "kiln-hub-ca"
OWNER = "hub.Pki"


@dataclass(frozen=True)
class HubPki:
    ca: CertificateAuthority
    server_certificate: Certificate
    server_key: KeyPair


async def load_or_create(data_dir: Path, state: State) -> HubPki:
    spec = await _stored(state)
    if spec is None:
        with contextlib.suppress(AlreadyExistsError):  # another replica made it first
            await state.create(Resource.new(PKI_ID, _legacy(data_dir) or _new()), owner=OWNER)
        spec = await _stored(state)
        assert spec is not None
    directory = data_dir / PKI_DIR
    ensure_private_dir(directory)
    write_private_files({directory / "server.crt": spec.server_crt.encode()})
    return HubPki(
        CertificateAuthority.from_pem(spec.ca_crt.encode(), spec.ca_key.encode(), "hub CA"),
        Certificate.from_pem(spec.server_crt.encode(), "hub server certificate"),
        KeyPair.from_pem(spec.server_key.encode(), "hub server key"),
    )


async def _stored(state: State) -> HubPkiSpec | None:
    try:
        return cast_spec(await state.get(Pointer.of(HubPkiSpec, PKI_ID)), HubPkiSpec).spec
    except NotFoundError:
        return None


def _new() -> HubPkiSpec:
    ca = CertificateAuthority.generate(CA_NAME, KeyAlgorithm.ECDSA_P256)
    server = self_signed_server(SERVER_NAME, SERVER_VALIDITY, dns_names=["localhost"])
    return HubPkiSpec(
        ca_crt=ca.certificate.pem.decode(),
        ca_key=ca.key.pem.decode(),
        server_crt=server.certificate.pem.decode(),
        server_key=server.key.pem.decode(),
    )


def _legacy(data_dir: Path) -> HubPkiSpec | None:
    names = ("ca.crt", "ca.key", "server.crt", "server.key")
    files = [data_dir / PKI_DIR / name for name in names]
    if not all(path.exists() for path in files):
        return None
    ca_crt, ca_key, server_crt, server_key = (path.read_text() for path in files)
    return HubPkiSpec(ca_crt=ca_crt, ca_key=ca_key, server_crt=server_crt, server_key=server_key)
