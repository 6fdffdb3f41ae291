"""Find, read and write kilnconfig files.

The path is, in order: the one given explicitly (``--kilnconfig``), ``$KILNCONFIG``, then
``~/.kiln/config``. Files are written with mode 0600 through a temporary file and a rename.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from kiln.machinery import problems
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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return Kilnconfig().with_source(str(path))
        raise KilnconfigError(f"{path}: no kilnconfig here") from None
    except OSError as exc:
        raise KilnconfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KilnconfigError(f"{path}: not a text file") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> Kilnconfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KilnconfigError(f"{source}: not valid YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KilnconfigError(f"{source}: expected a mapping with 'context' and 'contexts'")
    try:
        config = Kilnconfig.model_validate(data)
    except ValidationError as exc:
        raise KilnconfigError(problems.summary(source, exc)) from None
    return config.with_source(source)


def dump(config: Kilnconfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def save(config: Kilnconfig, path: Path) -> None:
    """Write ``config`` to ``path`` (mode 0600; a new parent directory gets 0700)."""
    ensure_private_dir(path.parent)
    write_private_file(path, dump(config))
