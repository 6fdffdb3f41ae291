"""What the node daemon imports at start: not the client's kilnconfig (models and store)."""

from __future__ import annotations

import subprocess
import sys


def test_the_daemon_does_not_import_kilnconfig() -> None:
    code = (
        "import sys, kiln.machined.main, kiln.machined.node\n"
        "print(sorted(m for m in sys.modules if m.startswith('kiln.machinery.kilnconfig')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
