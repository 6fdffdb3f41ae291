"""What the node daemon imports at start: not the client's kilnconfig (models and store)."""

from __future__ import annotations

import subprocess
import sys


def _printed(code: str) -> str:
    """What ``code`` prints, run by a fresh interpreter (nothing imported yet)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_daemon_does_not_import_kilnconfig() -> None:
    code = (
        "import sys, kiln.machined.main, kiln.machined.node\n"
        "print(sorted(m for m in sys.modules if m.startswith('kiln.machinery.kilnconfig')))"
    )
    assert _printed(code) == "[]"


def test_pid1_starts_its_api_without_loading_the_node_or_the_config_models() -> None:
    """What ``kiln-machined --mode metal`` imports before its early API answers: the API,
    DHCP and the status screen, not the node (it loads in a thread afterwards) nor pydantic
    (the slowest import under emulation)."""
    code = (
        "import sys, kiln.machined.main, kiln.machined.early, kiln.machined.address\n"
        "import kiln.machined.platform.metal.runner, kiln.machined.platform.metal.cmdline\n"
        "print(sorted(m for m in sys.modules if m in ('kiln.machined.node', 'pydantic', "
        "'yaml', 'kiln.machinery.config')))"
    )
    assert _printed(code) == "[]"
