"""The package lock: parsing, refusing malformed entries, the shipped lock's contents."""

from __future__ import annotations

import pytest

from kiln.image.errors import LockError
from kiln.image.lock import LockedPackage, PackageLock, load_lock, parse_lock

SHA = "a" * 64
GOOD = f"""
[resolve]
roots = ["python3.11-minimal", "linux-image-cloud-amd64"]
exclude = ["bash"]

[[package]]
name = "python3.11-minimal"
version = "3.11.2-6+deb12u8"
architecture = "amd64"
sha256 = "{SHA}"
size = 10
filename = "pool/main/p/python3.11/python3.11-minimal_3.11.2-6+deb12u8_amd64.deb"

[[package]]
name = "linux-image-6.1.0-50-cloud-amd64"
version = "6.1.176-1"
architecture = "amd64"
sha256 = "{"b" * 64}"
size = 20
filename = "pool/main/l/linux-signed-amd64/linux-image.deb"
"""


def test_a_lock_parses_and_round_trips() -> None:
    lock = parse_lock(GOOD)
    assert lock.roots == ("python3.11-minimal", "linux-image-cloud-amd64")
    assert lock.exclude == ("bash",)
    assert lock.get("python3.11-minimal").spec == "python3.11-minimal:amd64=3.11.2-6+deb12u8"
    assert lock.kernel("cloud-amd64").name == "linux-image-6.1.0-50-cloud-amd64"
    assert parse_lock(lock.to_toml()) == lock
    assert [p.name for p in lock.packages] == sorted(p.name for p in lock.packages)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace(SHA, "abc"), "sha256 must be 64 lowercase hex digits"),
        (lambda t: t.replace("size = 10", 'size = "10"'), "size is missing or not a int"),
        (lambda t: t.replace('"pool/main/p', '"/pool/main/p'), "path inside the archive"),
        (lambda t: t.replace("[resolve]", "[other]"), "missing [resolve] table"),
        (lambda t: t.replace('roots = ["python3.11-minimal", ', "roots = ["), None),
        (lambda t: t.replace("linux-image-6.1.0-50-cloud-amd64", "python3.11-minimal"), "twice"),
        (lambda t: t + "\n[[package", "not valid TOML"),
    ],
)
def test_malformed_locks_are_refused_with_the_place(change: object, message: str | None) -> None:
    assert callable(change)
    text = change(GOOD)
    if message is None:  # still valid: a change that keeps the lock well-formed
        parse_lock(text)
        return
    with pytest.raises(LockError, match=r"packages.lock") as err:
        parse_lock(text)
    assert message in str(err.value)


def test_a_lock_without_a_concrete_kernel_says_so() -> None:
    lock = PackageLock(("x",), (), (LockedPackage("libc6", "2.36", "amd64", SHA, 1, "pool/x"),))
    with pytest.raises(LockError, match="exactly one concrete cloud-amd64 kernel image, has none"):
        lock.kernel("cloud-amd64")


def test_the_shipped_lock_holds_what_the_image_needs_and_no_shell() -> None:
    lock = load_lock()
    names = {p.name for p in lock.packages}
    for needed in (
        "python3.11-minimal",
        "libpython3.11-stdlib",
        "containerd",
        "runc",
        "containernetworking-plugins",
        "e2fsprogs",
        "dosfstools",
        "gdisk",
        "libc6",
    ):
        assert needed in names
    assert lock.kernel("cloud-amd64").name.endswith("-cloud-amd64")
    assert not names & {"bash", "dash", "busybox", "openssh-server", "login", "util-linux"}
    assert all(p.architecture in ("amd64", "all") for p in lock.packages)
