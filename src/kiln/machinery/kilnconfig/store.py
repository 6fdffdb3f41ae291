"""Find, read and write kilnconfig files.

The path is, in order: the one given explicitly (``--kilnconfig``), ``$KILNCONFIG``, then
``~/.kiln/config``. Files are written with mode 0600 through a temporary file and a rename.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from kiln.machinery import datafile
from kiln.machinery.errors import KilnconfigError
from kiln.machinery.kilnconfig.model import Kilnconfig
from kiln.machinery.privatefile import ensure_private_dir, write_private_file

ENV_VAR = "KILNCONFIG"


def default_path(
    explicit: Path | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """The kilnconfig path to use."""
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    return (home or Path.home()) / ".kiln" / "config"


def load(path: Path, *, missing_ok: bool = False) -> Kilnconfig:
    """Read a kilnconfig; a missing file is an empty config if ``missing_ok``."""
    if not path.exists() and not path.is_symlink():
        if missing_ok:
            return Kilnconfig().with_source(str(path))
        raise KilnconfigError(f"{path}: no kilnconfig here")
    return parse(datafile.read_file(path, KilnconfigError), str(path))


def parse(data: str | bytes, source: str) -> Kilnconfig:
    config = datafile.parse_model(
        Kilnconfig,
        data,
        source,
        KilnconfigError,
        expected="a mapping with 'context' and 'contexts'",
        empty_ok=True,
    )
    return config.with_source(source)


def dump(config: Kilnconfig) -> str:
    data = config.model_dump(mode="json", by_alias=True)
    for context in data["contexts"].values():  # a context holds credentials or a hub
        for field in ("ca", "crt", "key", "hub"):
            if not context.get(field):
                context.pop(field, None)
    return yaml.safe_dump(data, sort_keys=False)


def save(config: Kilnconfig, path: Path) -> None:
    """Write ``config`` to ``path`` (mode 0600; a new parent directory gets 0700)."""
    ensure_private_dir(path.parent)
    write_private_file(path, dump(config))
