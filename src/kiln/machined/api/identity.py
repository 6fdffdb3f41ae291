"""What the API server presents and what a node dials other nodes with, and the API identity a
node keeps between boots.

A control-plane node issues its API certificate from the config's OS CA. It keeps it, with its
key and the CA, in ``<state>/api`` together with what it was issued for (:class:`IdentityInputs`)
so that the next start can serve the API at once with the same certificate, before the config
and the rest of the node have loaded (:mod:`kiln.machined.early`), and the boot reuses it while
the CA and the names stay the same. The key is no more secret than the OS CA key the config
next to it holds. This module imports nothing heavy: the early start reads it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from kiln.machined.statefiles import IDENTITY_DIR, MAINTENANCE_DIR
from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets.selfsigned import self_signed_server

RENEW_BEFORE = 30 * 24 * 3600.0  # seconds before expiry a kept certificate is issued again
MAINTENANCE_NAME = "kiln-maintenance"
MAINTENANCE_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class ServerIdentity:
    """What the API server presents (PEM), and the CA its clients must come from (None: any
    client is accepted, as in maintenance mode)."""

    key: bytes
    certificate: bytes
    client_ca: bytes | None = None


def maintenance_identity(state_dir: Path) -> ServerIdentity:
    """The node's self-signed maintenance identity (``<state>/maintenance``), made on first
    use: by the early API on a node's first start, so that maintenance mode answers before
    the node has loaded."""
    directory = state_dir / MAINTENANCE_DIR
    crt, key = directory / "tls.crt", directory / "tls.key"
    if crt.exists() and key.exists():
        return ServerIdentity(key.read_bytes(), crt.read_bytes())
    issued = self_signed_server(MAINTENANCE_NAME, MAINTENANCE_VALIDITY)
    identity = ServerIdentity(issued.key.pem, issued.certificate.pem)
    ensure_private_dir(state_dir)
    ensure_private_dir(directory)
    write_private_files({key: identity.key, crt: identity.certificate})
    return identity


@dataclass(frozen=True)
class ClientIdentity:
    """What a node dials other nodes with (PEM): its client key and certificate, and the CA
    their server certificates must come from."""

    key: bytes
    certificate: bytes
    ca: bytes


@dataclass(frozen=True)
class IdentityInputs:
    """What a kept API certificate was issued for, and until when it is valid."""

    names: tuple[str, ...]
    ca_sha256: str
    not_after: float  # seconds since the epoch
    node_name: str  # how the node labelled its answers in that boot

    def serves(self, names: tuple[str, ...], ca: bytes, now: float | None = None) -> bool:
        """Whether the certificate fits ``names`` and ``ca`` and is not due for renewal."""
        moment = time.time() if now is None else now
        return (
            self.names == names
            and self.ca_sha256 == hashlib.sha256(ca).hexdigest()
            and self.not_after - RENEW_BEFORE > moment
        )


@dataclass(frozen=True)
class KeptIdentity:
    identity: ServerIdentity
    inputs: IdentityInputs


def _files(state_dir: Path) -> dict[str, Path]:
    directory = state_dir / IDENTITY_DIR
    return {name: directory / name for name in ("tls.key", "tls.crt", "ca.crt", "inputs.json")}


def load_kept(state_dir: Path) -> KeptIdentity | None:
    """The identity the last configured boot kept, or None (none kept, or unreadable)."""
    files = _files(state_dir)
    try:
        data = {name: path.read_bytes() for name, path in files.items()}
        raw = json.loads(data["inputs.json"])
        inputs = IdentityInputs(
            names=tuple(str(name) for name in raw["names"]),
            ca_sha256=str(raw["ca_sha256"]),
            not_after=float(raw["not_after"]),
            node_name=str(raw["node_name"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    identity = ServerIdentity(data["tls.key"], data["tls.crt"], data["ca.crt"])
    return KeptIdentity(identity, inputs)


def keep(state_dir: Path, kept: KeptIdentity) -> None:
    """Write ``kept`` (0600 files in a 0700 directory); each file is replaced atomically."""
    ensure_private_dir(state_dir / IDENTITY_DIR)
    files = _files(state_dir)
    identity = kept.identity
    if identity.client_ca is None:
        raise ValueError("only a configured identity (with a client CA) is kept")
    inputs = asdict(kept.inputs)
    inputs["names"] = list(kept.inputs.names)
    write_private_files(
        {
            files["tls.key"]: identity.key,
            files["tls.crt"]: identity.certificate,
            files["ca.crt"]: identity.client_ca,
            files["inputs.json"]: json.dumps(inputs, indent=2).encode(),
        }
    )
