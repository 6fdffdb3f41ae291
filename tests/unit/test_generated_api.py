"""The committed gRPC code must be what scripts/gen-proto makes from proto/ today."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# every package scripts/gen-proto writes into (relative to src/)
PACKAGES = ("kiln/machinery/api", "kiln/machined/etcd/api")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    subprocess.run([str(ROOT / "scripts" / "gen-proto"), str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_generated_grpc_code_is_current(fresh: Path, package: str) -> None:
    made_dir = fresh / package
    committed_dir = ROOT / "src" / package
    made = sorted(path.name for path in made_dir.iterdir())
    assert made, f"scripts/gen-proto generated nothing into {package}"
    committed = sorted(path.name for path in committed_dir.glob("*_pb2*"))
    assert made == committed
    stale = [
        name
        for name in made
        if (made_dir / name).read_bytes() != (committed_dir / name).read_bytes()
    ]
    assert not stale, f"regenerate with scripts/gen-proto: {stale}"


def test_every_generated_package_is_checked(fresh: Path) -> None:
    written = {str(path.parent.relative_to(fresh)) for path in fresh.rglob("*_pb2.py")}
    assert written == set(PACKAGES)


def test_etcd_method_paths_are_etcds_own() -> None:
    stubs = (ROOT / "src" / "kiln/machined/etcd/api/rpc_pb2_grpc.py").read_text()
    for path in (
        "/etcdserverpb.KV/Range",
        "/etcdserverpb.KV/Txn",
        "/etcdserverpb.Lease/LeaseGrant",
        "/etcdserverpb.Cluster/MemberAdd",
        "/etcdserverpb.Cluster/MemberPromote",
        "/etcdserverpb.Maintenance/Snapshot",
        "/etcdserverpb.Maintenance/MoveLeader",
    ):
        assert f"'{path}'" in stubs or f'"{path}"' in stubs, path
