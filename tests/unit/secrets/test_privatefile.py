"""Files holding secrets: mode 0600, atomic, and a failed set of writes changes nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln.machinery.privatefile import write_private_file, write_private_files


def test_written_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    write_private_file(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_set_changes_nothing(tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.write_text("keep")
    missing_dir = tmp_path / "missing" / "second"
    with pytest.raises(FileNotFoundError) as caught:
        write_private_files({first: "replace", missing_dir: "new"})
    assert caught.value.filename == str(missing_dir)
    assert first.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]  # no temporary files left
