"""What the machine keeps about its hub, under ``<state>/hub`` (mode 0600): its secret (made
once; it proves the machine's UUID is its own), its key, and after a join the certificate
the hub issued, the hub CA, the hub's pinned certificate and the URL joined. A reset keeps it
(the node's own MachineIdentity changes, but to its hub the machine stays the UUID it joined
as, and goes back to the hub's free pool)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from kiln.machinery.privatefile import ensure_private_dir, write_private_files
from kiln.machinery.secrets import KeyAlgorithm, KeyPair


@dataclass(frozen=True)
class Joined:
    """The result of a join: how to connect to the hub's machine port."""

    url: str
    certificate: bytes
    ca: bytes
    server: bytes  # the hub's certificate, pinned
    machine_port: int


class HubIdentity:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def secret(self) -> str:
        path = self.directory / "secret"
        if not path.exists():
            ensure_private_dir(self.directory)
            write_private_files({path: secrets.token_urlsafe(32)})
        return path.read_text().strip()

    @property
    def key_path(self) -> Path:
        return self.directory / "machine.key"

    @property
    def certificate_path(self) -> Path:
        """The certificate of the last join (see :meth:`joined`)."""
        return self._files()["crt"]

    def key(self) -> KeyPair:
        path = self.key_path
        if not path.exists():
            ensure_private_dir(self.directory)
            write_private_files({path: KeyPair.generate(KeyAlgorithm.ECDSA_P256).pem})
        return KeyPair.from_pem(path.read_bytes(), str(path))

    def joined(self, url: str) -> Joined | None:
        """What an earlier join to ``url`` left; None if there was none."""
        files = self._files()
        if not all(path.exists() for path in files.values()):
            return None
        if files["url"].read_text() != url:
            return None
        port = files["port"].read_text().strip()
        return Joined(
            url,
            files["crt"].read_bytes(),
            files["ca"].read_bytes(),
            files["server"].read_bytes(),
            int(port) if port.isdigit() else 0,
        )

    def save(self, joined: Joined) -> None:
        files = self._files()
        ensure_private_dir(self.directory)
        write_private_files(
            {
                files["crt"]: joined.certificate,
                files["ca"]: joined.ca,
                files["server"]: joined.server,
                files["port"]: str(joined.machine_port),
                files["url"]: joined.url,
            }
        )

    def forget(self) -> None:
        """Drop the join (the hub refused its certificate): the next connection joins again."""
        self._files()["crt"].unlink(missing_ok=True)

    def _files(self) -> dict[str, Path]:
        names = {
            "crt": "machine.crt",
            "ca": "hub-ca.crt",
            "server": "hub.crt",
            "port": "machine-port",
            "url": "url",
        }
        return {key: self.directory / name for key, name in names.items()}
