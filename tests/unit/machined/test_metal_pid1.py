"""PID 1's orphan reaper takes only zombies that stayed zombies; the status screen."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from kiln.machined.api.identity import maintenance_identity
from kiln.machined.platform.metal import console, pid1


def _fake_stat(proc: Path, pid: int, state: str, ppid: int, start: str) -> None:
    (proc / str(pid)).mkdir()
    rest = " ".join([state, str(ppid)] + ["0"] * 17 + [start])
    (proc / str(pid) / "stat").write_text(f"{pid} (a (odd) name) {rest} 0 0\n")


def test_zombie_children_are_found_by_parent(tmp_path: Path) -> None:
    _fake_stat(tmp_path, 10, "Z", 1, "500")
    _fake_stat(tmp_path, 11, "S", 1, "501")
    _fake_stat(tmp_path, 12, "Z", 7, "502")
    (tmp_path / "self").mkdir()
    assert pid1.zombies(tmp_path, 1) == {(10, "500")}


def test_a_zombie_is_reaped_on_the_second_scan_only() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    reaper = pid1.Reaper()
    deadline = time.monotonic() + 10
    while (pid, _start(pid)) not in pid1.zombies(Path("/proc"), os.getpid()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert pid not in reaper.scan()  # first sight: its waiter may still come
    assert Path(f"/proc/{pid}").exists()
    assert reaper.scan() == [pid]
    assert not Path(f"/proc/{pid}").exists()


def _start(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2 :].split()[19]


def test_mount_points_are_read_from_mountinfo() -> None:
    text = (
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "23 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    )
    assert pid1.mounted(text) == {"/proc", "/sys/fs/cgroup"}


def test_the_status_screen_shows_addresses_stage_and_fingerprint(tmp_path: Path) -> None:
    identity = maintenance_identity(tmp_path)
    fingerprint = console.fingerprint(identity.certificate)
    from cryptography import x509

    expected = x509.load_pem_x509_certificate(identity.certificate).fingerprint(hashes.SHA256())
    assert fingerprint.replace(":", "").lower() == expected.hex()
    screen = console.render(
        console.Status("maintenance", ("10.0.2.15", "fec0::1"), 50000, fingerprint)
    )
    assert "stage:        maintenance" in screen
    assert "10.0.2.15:50000, [fec0::1]:50000" in screen
    assert fingerprint in screen and "no shell and no login" in screen
    assert "waiting for DHCP" in console.render(console.Status("booting", (), 50000, "-"))


def test_the_default_hostname_comes_from_the_first_mac(tmp_path: Path) -> None:
    from kiln.machined.platform.metal.runner import default_hostname

    (tmp_path / "class/net/eth0").mkdir(parents=True)
    (tmp_path / "class/net/eth0/address").write_text("52:54:00:12:34:56\n")
    assert default_hostname(["missing", "eth0"], tmp_path) == "kiln-123456"
    assert default_hostname([], tmp_path) == "kiln"


def test_metal_mode_is_refused_unless_pid_1(tmp_path: Path) -> None:
    import subprocess
    import sys

    machined = str(Path(sys.executable).with_name("kiln-machined"))
    done = subprocess.run(
        [machined, "--mode", "metal", "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "error: metal mode runs only as PID 1 of a Kiln OS machine" in done.stderr
