"""Each container-mode node's kubelet gets a cgroup root of its own, made in every hierarchy
of the host before it starts (cpuset values copied, cgroup v2 controllers handed down) and
removed once the node stops (see test_k8s_node_config for the kubelet's side)."""

from __future__ import annotations

from pathlib import Path

from kiln.machined.kubernetes import cgroups


def mountinfo(tmp_path: Path) -> Path:
    """A host with cgroup v1 memory and cpuset hierarchies and a cgroup v2 one."""
    lines = []
    for number, (name, kind, options) in enumerate(
        [("memory", "cgroup", "memory"), ("cpuset", "cgroup", "cpuset"), ("unified", "cgroup2", "")]
    ):
        (tmp_path / name).mkdir()
        lines.append(
            f"{30 + number} 25 0:{40 + number} / {tmp_path / name} rw,relatime shared:9 - "
            f"{kind} {kind} rw,{options}"
        )
    lines.append(f"50 25 0:50 / {tmp_path} rw shared:1 - tmpfs tmpfs rw")
    (tmp_path / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (tmp_path / "cpuset" / "cpuset.mems").write_text("0\n")
    (tmp_path / "unified" / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "unified" / "cgroup.subtree_control").write_text("")
    path = tmp_path / "mountinfo"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_each_node_gets_its_own_root(tmp_path: Path) -> None:
    one = cgroups.node_cgroup_root("cp-1", tmp_path / "a" / "cp-1")
    other = cgroups.node_cgroup_root("cp-1", tmp_path / "b" / "cp-1")  # another cluster's cp-1
    assert one.startswith("/kiln/cp-1-") and other.startswith("/kiln/cp-1-")
    assert one != other
    assert one == cgroups.node_cgroup_root("cp-1", tmp_path / "a" / "cp-1")


def test_hierarchies_are_the_cgroup_mounts(tmp_path: Path) -> None:
    found = cgroups.hierarchies(mountinfo(tmp_path).read_text())
    assert found == [
        (tmp_path / "memory", False),
        (tmp_path / "cpuset", False),
        (tmp_path / "unified", True),
    ]


def test_root_made_everywhere_then_removed(tmp_path: Path) -> None:
    info = mountinfo(tmp_path)
    cgroups.create("/kiln/cp-1-abc", info)
    for name in ("memory", "cpuset", "unified"):
        assert (tmp_path / name / "kiln" / "cp-1-abc").is_dir()
    # the kernel would have made these files; the fake hierarchy starts them empty
    assert (tmp_path / "unified" / "cgroup.subtree_control").read_text() == "+pids"
    (tmp_path / "memory" / "kiln" / "cp-1-abc" / "kubepods" / "besteffort").mkdir(parents=True)
    (tmp_path / "memory" / "kiln" / "other-node").mkdir()
    assert cgroups.remove("/kiln/cp-1-abc", info) == 5
    assert not (tmp_path / "memory" / "kiln" / "cp-1-abc").exists()
    assert (tmp_path / "memory" / "kiln" / "other-node").is_dir()  # another node's stays
    assert not (tmp_path / "cpuset" / "kiln").exists()  # no other node there: parent gone


def test_cpuset_of_a_new_cgroup_copied_from_its_parent(tmp_path: Path) -> None:
    info = mountinfo(tmp_path)
    level = tmp_path / "cpuset" / "kiln"
    level.mkdir()
    (level / "cpuset.cpus").write_text("\n")  # what the kernel shows in a new cpuset cgroup
    (level / "cpuset.mems").write_text("\n")
    cgroups.create("/kiln/cp-1-abc", info)
    assert (level / "cpuset.cpus").read_text() == "0-1\n"
    assert (level / "cpuset.mems").read_text() == "0\n"
