"""The build: the cache keeps the newest finished builds, and the root has no broken links."""

from __future__ import annotations

import os
from pathlib import Path

from kiln.image.build import prune


def test_the_cache_keeps_the_newest_builds(tmp_path: Path) -> None:
    for index, name in enumerate(["a", "b", "c", "killed", "running"]):
        (tmp_path / name).mkdir()
        if name not in ("killed", "running"):
            (tmp_path / name / ".complete").write_text("")
            os.utime(tmp_path / name / ".complete", (1000 + index, 1000 + index))
    os.utime(tmp_path / "killed", (500, 500))
    removed = prune(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == ["a", "killed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c", "running"]


def test_links_that_point_nowhere_in_the_image_are_found(tmp_path: Path) -> None:
    from kiln.image.rootfs import dangling_links

    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/sbin/runc").write_text("")
    (tmp_path / "sbin").symlink_to("usr/sbin")
    (tmp_path / "usr/bin/runc").symlink_to("../sbin/runc")
    (tmp_path / "usr/bin/abs").symlink_to("/sbin/runc")  # through the image's own /sbin link
    (tmp_path / "usr/bin/gone").symlink_to("../sbin/gone")
    (tmp_path / "etc/resolv.conf").symlink_to("/run/resolv.conf")  # mounted at run time
    assert dangling_links(tmp_path) == ["/usr/bin/gone"]
