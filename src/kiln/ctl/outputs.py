"""Write the files a command generates: all of them or none, mode 0600, never over a file
that exists unless ``--force`` was given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from kiln.ctl.errors import CliError
from kiln.machinery.privatefile import ensure_private_dir, write_private_files


def check_new_files(paths: Iterable[Path], *, force: bool) -> None:
    """CliError if a target is a directory, or exists and ``force`` is not set."""
    paths = list(paths)
    directories = [path for path in paths if path.is_dir()]
    if directories:
        raise CliError(f"{directories[0]} is a directory")
    existing = [path for path in paths if path.exists() or path.is_symlink()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise CliError(f"{names} already {verb} (use --force to overwrite)")


def write_new_files(files: Mapping[Path, str], *, force: bool) -> None:
    """Check every target first, then write them all; CliError before anything is written."""
    check_new_files(files, force=force)
    for parent in dict.fromkeys(path.parent for path in files):
        ensure_private_dir(parent)
    write_private_files(files)
