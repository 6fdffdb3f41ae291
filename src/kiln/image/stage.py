"""Unpacking the locked packages into one staging tree (``dpkg-deb -x``), cached by the
packages' hashes: a rebuild with the same lock reuses it."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path

from kiln import process
from kiln.image.lock import PackageLock


def lock_key(lock: PackageLock) -> str:
    digest = hashlib.sha256()
    for package in sorted(lock.packages, key=lambda p: p.name):
        digest.update(f"{package.name} {package.sha256}\n".encode())
    return digest.hexdigest()[:20]


async def staging_tree(lock: PackageLock, debs: Mapping[str, Path], cache: Path) -> Path:
    """The unpacked packages under ``cache/staging/<key>`` (made once per lock)."""
    target = cache / "staging" / lock_key(lock)
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in sorted(debs):
        await process.run(["dpkg-deb", "-x", str(debs[name]), str(partial)], timeout=600)
    (partial / ".complete").write_text("")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target
