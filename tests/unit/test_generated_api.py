"""The committed gRPC code must be what scripts/gen-proto makes from proto/ today."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "src" / "kiln" / "machinery" / "api"


def test_generated_grpc_code_is_current(tmp_path: Path) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "gen-proto"), str(tmp_path)], check=True, capture_output=True
    )
    fresh = tmp_path / "kiln" / "machinery" / "api"
    made = sorted(path.name for path in fresh.iterdir())
    assert made, "scripts/gen-proto generated nothing"
    committed = sorted(path.name for path in GENERATED.glob("*_pb2*"))
    assert made == committed
    stale = [
        name for name in made if (fresh / name).read_bytes() != (GENERATED / name).read_bytes()
    ]
    assert not stale, f"regenerate with scripts/gen-proto: {stale}"
