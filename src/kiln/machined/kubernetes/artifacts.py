"""Kubernetes binaries: where they come from, how they are verified, where they are kept.

A source has the layout of the official release location::

    <base>/<version>/bin/linux/<arch>/<binary>          the program
    <base>/<version>/bin/linux/<arch>/<binary>.sha256   its SHA-256 (hex, as published)

``<base>`` is ``https://dl.k8s.io/release`` by default, an HTTP(S) mirror's URL, or a local
directory (``cluster.kubernetes.artifacts``). Binaries are kept in a content-addressed cache in
the node's state (``/var`` on metal)::

    <cache>/sha256/<hex>                  a verified binary (0755), named by its digest
    <cache>/versions/<version>-<arch>.json   which digest each binary of a version has
    <cache>/current.json                  the version the node last ran

A download is written to a temporary file, hashed while it is written, and renamed into place
only when its digest is the published one; a mismatch is an :class:`ArtifactVerificationError`
and nothing is kept. A cached binary is hashed again before every start (:meth:`verify`): one
changed on disk is removed and never executed. All functions block (run them in a thread).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiln.machined.kubernetes.errors import ArtifactError, ArtifactVerificationError
from kiln.machinery.config.model import ArtifactSource, KubernetesArtifacts

OFFICIAL_BASE = "https://dl.k8s.io/release"
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE_BINARIES = ("kubelet", "kube-proxy")
FETCH_TIMEOUT = 30.0
_RECORDS = threading.Lock()
CHUNK = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_arch() -> str:
    """The release architecture of this machine (``amd64``, ``arm64``)."""
    machine = platform.machine().lower()
    try:
        return _ARCHES[machine]
    except KeyError:
        raise ArtifactError(f"no Kubernetes release for machine architecture {machine}") from None


@dataclass(frozen=True)
class ArtifactLocation:
    """Where the binaries of every version are: a URL base or a local directory."""

    base: str
    local: bool = False

    @classmethod
    def from_config(cls, artifacts: KubernetesArtifacts) -> ArtifactLocation:
        if artifacts.source is ArtifactSource.LOCAL and artifacts.path is not None:
            return cls(str(artifacts.path), local=True)
        if artifacts.source is ArtifactSource.MIRROR and artifacts.url is not None:
            return cls(str(artifacts.url).rstrip("/"))
        return cls(OFFICIAL_BASE)

    def binary(self, version: str, arch: str, name: str) -> str:
        """The URL (or path) of ``name`` for ``version`` on ``arch``."""
        relative = f"{version}/bin/linux/{arch}/{name}"
        if self.local:
            return str(Path(self.base) / relative)
        return f"{self.base}/{relative}"

    def open(self, where: str) -> BinaryIO:
        """Open what :meth:`binary` named; :class:`ArtifactError` saying where and why not."""
        try:
            if self.local:
                return Path(where).open("rb")
            response = urllib.request.urlopen(where, timeout=FETCH_TIMEOUT)
            return response  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            raise ArtifactError(f"cannot fetch {where}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise ArtifactError(f"cannot fetch {where}: {exc.reason}") from exc
        except OSError as exc:
            raise ArtifactError(f"cannot read {where}: {exc.strerror or exc}") from exc

    def published_digest(self, version: str, arch: str, name: str) -> str:
        """The SHA-256 published beside the binary (first word of ``<binary>.sha256``)."""
        where = self.binary(version, arch, name) + ".sha256"
        with self.open(where) as stream:
            try:
                text = stream.read(4096).decode("ascii", errors="replace")
            except OSError as exc:
                raise ArtifactError(f"cannot read {where}: {exc}") from exc
        words = text.split()
        digest = words[0].lower() if words else ""
        if not _DIGEST.fullmatch(digest):
            raise ArtifactVerificationError(f"{where} holds no SHA-256 digest")
        return digest


class ArtifactCache:
    """The content-addressed cache of verified binaries (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob(self, digest: str) -> Path:
        return self.root / "sha256" / digest

    def verify(self, path: Path) -> Path:
        """``path`` (a blob) if its content still has the digest it is named by; otherwise it
        is removed and :class:`ArtifactVerificationError` says so."""
        try:
            actual = _sha256_file(path)
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if actual != path.name:
            path.unlink(missing_ok=True)
            raise ArtifactVerificationError(
                f"{path} changed on disk (SHA-256 {actual}, expected {path.name}): removed, "
                "not executed"
            )
        return path

    def cached(self, digest: str) -> Path | None:
        """The blob with ``digest`` if it is there and intact."""
        path = self.blob(digest)
        if not path.is_file():
            return None
        try:
            return self.verify(path)
        except ArtifactError:
            return None

    def store(self, stream: BinaryIO, digest: str, what: str) -> Path:
        """Copy ``stream`` into the blob ``digest``, verifying it on the way."""
        target = self.blob(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, name = tempfile.mkstemp(prefix=".fetch-", dir=target.parent)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if hasher.hexdigest() != digest:
                raise ArtifactVerificationError(
                    f"{what} has SHA-256 {hasher.hexdigest()}, but {digest} is published: "
                    "refused, not executed"
                )
            temp.chmod(0o755)
            temp.replace(target)
        except OSError as exc:
            raise ArtifactError(f"cannot store {what} in {target.parent}: {exc}") from exc
        finally:
            temp.unlink(missing_ok=True)
        return target

    def fetch(
        self, location: ArtifactLocation, version: str, arch: str, names: Iterable[str]
    ) -> dict[str, Path]:
        """Every binary of ``names`` for ``version``, verified, from the cache or the source;
        recorded as the version's set."""
        found: dict[str, Path] = {}
        for name in names:
            digest = location.published_digest(version, arch, name)
            path = self.cached(digest)
            if path is None:
                where = location.binary(version, arch, name)
                with location.open(where) as stream:
                    path = self.store(stream, digest, where)
            found[name] = path
        with _RECORDS:  # the control plane's and the node's binaries of one version
            record = self._record(version, arch)
            known = self._read_record(record)
            known.update({n: p.name for n, p in found.items()})
            self._write_json(record, known)
        return found

    def _read_record(self, record: Path) -> dict[str, str]:
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def recorded(self, version: str, arch: str) -> dict[str, Path]:
        """The binaries recorded for ``version`` that are still in the cache (unverified)."""
        try:
            digests = json.loads(self._record(version, arch).read_text())
        except (OSError, ValueError):
            return {}
        return {name: self.blob(d) for name, d in digests.items() if self.blob(d).is_file()}

    def current(self) -> str | None:
        """The version the node last ran, if any."""
        try:
            value = json.loads((self.root / "current.json").read_text()).get("version")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def set_current(self, version: str) -> None:
        self._write_json(self.root / "current.json", {"version": version})

    def _record(self, version: str, arch: str) -> Path:
        return self.root / "versions" / f"{version}-{arch}.json"

    def _write_json(self, path: Path, data: Mapping[str, str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        temp.replace(path)


def _sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
