"""The package lock: the exact Debian packages an image is built from.

The lock (``packages.lock``, TOML) holds what to resolve (root packages, packages never taken
in) and the resolved closure, one ``[[package]]`` table each::

    [resolve]
    roots = ["linux-image-cloud-amd64", "python3.11-minimal", ...]
    exclude = ["bash", "dash", ...]

    [[package]]
    name = "libc6"
    version = "2.36-9+deb12u14"
    architecture = "amd64"
    sha256 = "..."
    size = 2757396
    filename = "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb"

``filename`` is the path inside the archive, never a host name: apt's own configuration says
where the archive is.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiln.image.errors import LockError

DEFAULT_LOCK = Path(__file__).with_name("packages.lock")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    architecture: str
    sha256: str
    size: int
    filename: str

    @property
    def spec(self) -> str:
        """What ``apt-get download`` takes: ``name:arch=version``."""
        return f"{self.name}:{self.architecture}={self.version}"


@dataclass(frozen=True)
class PackageLock:
    roots: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    packages: tuple[LockedPackage, ...] = field(default_factory=tuple)

    def get(self, name: str) -> LockedPackage:
        for package in self.packages:
            if package.name == name:
                return package
        raise LockError(f"package {name!r} is not in the lock")

    def kernel(self, flavour: str) -> LockedPackage:
        """The concrete kernel image package of ``flavour`` (``linux-image-<abi>-<flavour>``,
        e.g. ``cloud-amd64`` or ``amd64``)."""
        found = [p for p in self.packages if _kernel_flavour(p.name) == (flavour, True)]
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise LockError(
                f"the lock must hold exactly one concrete {flavour} kernel image, has {names}"
            )
        return found[0]

    def with_kernel(self, flavour: str) -> PackageLock:
        """This lock without the kernel packages (image and meta) of other flavours: what an
        image with the ``flavour`` kernel is built from."""
        kept = tuple(
            p
            for p in self.packages
            if (kind := _kernel_flavour(p.name)) is None or kind[0] == flavour
        )
        return PackageLock(self.roots, self.exclude, kept)

    def to_toml(self) -> str:
        lines = [
            "# Debian packages Kiln OS images are built from. Refresh with `kilnctl image lock`.",
            "",
            "[resolve]",
            f"roots = {_toml_list(self.roots)}",
            f"exclude = {_toml_list(self.exclude)}",
        ]
        for p in sorted(self.packages, key=lambda p: p.name):
            lines += [
                "",
                "[[package]]",
                f'name = "{p.name}"',
                f'version = "{p.version}"',
                f'architecture = "{p.architecture}"',
                f'sha256 = "{p.sha256}"',
                f"size = {p.size}",
                f'filename = "{p.filename}"',
            ]
        return "\n".join(lines) + "\n"


_KERNEL = re.compile(r"linux-image-(\d+\.\d+\.\d+-\d+-)?([a-z0-9][a-z0-9-]*)")


def _kernel_flavour(name: str) -> tuple[str, bool] | None:
    """``(flavour, concrete)`` of a kernel image package name, None for other packages:
    ``linux-image-6.1.0-57-cloud-amd64`` is (``cloud-amd64``, True), the meta package
    ``linux-image-cloud-amd64`` (``cloud-amd64``, False)."""
    match = _KERNEL.fullmatch(name)
    return (match.group(2), match.group(1) is not None) if match else None


def _toml_list(items: tuple[str, ...]) -> str:
    inner = "".join(f'\n    "{item}",' for item in items)
    return f"[{inner}\n]" if items else "[]"


def parse_lock(text: str, where: str = "packages.lock") -> PackageLock:
    """Parse a lock; LockError names the file, the entry and what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{where}: not valid TOML: {exc}") from None
    resolve = data.get("resolve")
    if not isinstance(resolve, dict):
        raise LockError(f"{where}: missing [resolve] table")
    roots = _names(resolve.get("roots"), f"{where}: resolve.roots")
    if not roots:
        raise LockError(f"{where}: resolve.roots is empty")
    exclude = _names(resolve.get("exclude", []), f"{where}: resolve.exclude")
    raw = data.get("package", [])
    if not isinstance(raw, list):
        raise LockError(f"{where}: package must be an array of tables ([[package]])")
    packages = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        package = _package(entry, f"{where}: package[{index}]")
        if package.name in seen:
            raise LockError(f"{where}: package[{index}]: {package.name} is listed twice")
        seen.add(package.name)
        packages.append(package)
    return PackageLock(roots, exclude, tuple(sorted(packages, key=lambda p: p.name)))


def load_lock(path: Path = DEFAULT_LOCK) -> PackageLock:
    try:
        text = path.read_text()
    except OSError as exc:
        raise LockError(f"{path}: cannot read the package lock: {exc.strerror}") from None
    return parse_lock(text, str(path))


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LockError(f"{where}: expected a list of package names")
    for name in value:
        if not _NAME.fullmatch(name):
            raise LockError(f"{where}: {name!r} is not a Debian package name")
    return tuple(value)


def _package(entry: object, where: str) -> LockedPackage:
    if not isinstance(entry, dict):
        raise LockError(f"{where}: expected a table")
    fields: dict[str, object] = {}
    for key, kind in (
        ("name", str),
        ("version", str),
        ("architecture", str),
        ("sha256", str),
        ("size", int),
        ("filename", str),
    ):
        value = entry.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise LockError(f"{where}: {key} is missing or not a {kind.__name__}")
        fields[key] = value
    package = LockedPackage(**fields)  # type: ignore[arg-type]
    if not _NAME.fullmatch(package.name):
        raise LockError(f"{where}: {package.name!r} is not a Debian package name")
    if not _SHA256.fullmatch(package.sha256):
        raise LockError(f"{where} ({package.name}): sha256 must be 64 lowercase hex digits")
    if package.filename.startswith("/") or ".." in package.filename.split("/"):
        raise LockError(f"{where} ({package.name}): filename must be a path inside the archive")
    return package
