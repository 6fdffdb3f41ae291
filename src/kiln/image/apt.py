"""Resolving and fetching the locked Debian packages with the machine's own apt.

Resolution asks ``apt-cache show`` for each package's candidate and follows ``Depends`` and
``Pre-Depends`` (the first alternative that is a real package and not excluded). Fetching runs
``apt-get download name:arch=version`` into a cache outside the repository, keyed by SHA-256,
and refuses a file whose hash differs from the lock. apt's configuration says where the archive
is; nothing here names a host.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kiln import process
from kiln.image.errors import LockError, PackageError
from kiln.image.lock import LockedPackage, PackageLock

_DEP_NAME = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]+)(?::[a-z0-9]+)?")
APT_ENV = {"LC_ALL": "C.UTF-8"}


def parse_stanza(text: str) -> dict[str, str]:
    """One ``apt-cache show`` stanza as a dict (continuation lines joined)."""
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def dependency_groups(fields: dict[str, str]) -> list[list[str]]:
    """``Pre-Depends`` and ``Depends`` as groups of alternative package names."""
    groups = []
    for key in ("Pre-Depends", "Depends"):
        for group in filter(None, (g.strip() for g in fields.get(key, "").split(","))):
            names = [m.group(1) for m in map(_DEP_NAME.match, group.split("|")) if m]
            if names:
                groups.append(names)
    return groups


async def show(name: str) -> dict[str, str] | None:
    """The candidate stanza of ``name``; None when it is virtual or has no candidate."""
    done = await process.run(
        ["apt-cache", "show", "--no-all-versions", name], env=APT_ENV, check=False
    )
    text = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not text:
        return None
    fields = parse_stanza(text.split("\n\n")[0])
    return fields if fields.get("Package") == name else None


async def resolve(roots: Iterable[str], exclude: Iterable[str]) -> tuple[LockedPackage, ...]:
    """The closure of ``roots`` over their dependencies, leaving out ``exclude``."""
    excluded = set(exclude)
    found: dict[str, LockedPackage] = {}
    queue = list(roots)
    cache: dict[str, dict[str, str] | None] = {}

    async def lookup(name: str) -> dict[str, str] | None:
        if name not in cache:
            cache[name] = await show(name)
        return cache[name]

    while queue:
        name = queue.pop(0)
        if name in found or name in excluded:
            continue
        fields = await lookup(name)
        if fields is None:
            raise LockError(f"{name}: apt has no candidate for it (is the apt index current?)")
        found[name] = _locked(fields)
        for group in dependency_groups(fields):
            if any(n in found or n in excluded for n in group):
                continue
            for alternative in group:
                if await lookup(alternative) is not None:
                    queue.append(alternative)
                    break
            else:
                raise LockError(f"{name}: no installable package for {' | '.join(group)}")
    return tuple(sorted(found.values(), key=lambda p: p.name))


def _locked(fields: dict[str, str]) -> LockedPackage:
    try:
        return LockedPackage(
            name=fields["Package"],
            version=fields["Version"],
            architecture=fields["Architecture"],
            sha256=fields["SHA256"],
            size=int(fields["Size"]),
            filename=fields["Filename"],
        )
    except (KeyError, ValueError) as exc:
        name = fields.get("Package", "?")
        raise LockError(f"{name}: apt-cache show lacks a field or value: {exc}") from None


async def relock(lock: PackageLock) -> PackageLock:
    """A lock with the same roots and exclusions, resolved against apt's current index."""
    return PackageLock(lock.roots, lock.exclude, await resolve(lock.roots, lock.exclude))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(cache: Path, package: LockedPackage) -> Path:
    return cache / "debs" / f"{package.name}_{package.sha256[:16]}.deb"


def verify_package(path: Path, package: LockedPackage) -> None:
    """PackageError unless ``path`` has the lock's SHA-256."""
    actual = sha256_file(path)
    if actual != package.sha256:
        raise PackageError(
            f"{package.name} {package.version}: {path.name} has SHA-256 {actual}, "
            f"the lock says {package.sha256}; refusing it (refresh the lock with "
            "`kilnctl image lock` if the archive changed)"
        )


async def fetch(packages: Iterable[LockedPackage], cache: Path) -> dict[str, Path]:
    """Every package as a verified ``.deb`` in ``cache``; downloads what is missing."""
    wanted = list(packages)
    missing = [p for p in wanted if not cached_path(cache, p).exists()]
    (cache / "debs").mkdir(parents=True, exist_ok=True)
    if missing:
        with tempfile.TemporaryDirectory(dir=cache, prefix="download-") as tmp:
            await process.run(
                ["apt-get", "download", "-q", *(p.spec for p in missing)],
                cwd=tmp,
                env=APT_ENV,
                inherit_env=True,  # the machine's proxy settings, if any
                timeout=1800,
            )
            for package in missing:
                downloaded = _downloaded(Path(tmp), package)
                verify_package(downloaded, package)
                shutil.move(downloaded, cached_path(cache, package))
    result = {}
    for package in wanted:
        path = cached_path(cache, package)
        verify_package(path, package)
        result[package.name] = path
    return result


def _downloaded(directory: Path, package: LockedPackage) -> Path:
    matches = sorted(directory.glob(f"{package.name}_*.deb"))
    if len(matches) != 1:
        raise PackageError(f"{package.name}: apt-get download left {len(matches)} files for it")
    return matches[0]
