"""Facts about the host, read from a /proc and /sys of the test's own."""

from __future__ import annotations

from pathlib import Path

from kiln.machined.platform import host

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 10.5.0.0/24 2 0 2
           |-- 10.5.0.2
              /32 host LOCAL
        |-- 10.5.0.255
           /32 link BROADCAST
"""
IF_INET6 = """fe8000000000000000fc00fffe000001 04 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
"""


def test_addresses_without_loopback_or_link_local(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "fib_trie").write_text(FIB_TRIE)
    (tmp_path / "net" / "if_inet6").write_text(IF_INET6)
    assert host.local_addresses(tmp_path) == ["10.5.0.2", "fd00::2"]
    assert host.local_addresses(tmp_path / "missing") == []


def test_hardware_from_sys(tmp_path: Path) -> None:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:        2048 kB\nMemFree: 1 kB\n")
    for name, sectors in (("vda", "2048"), ("loop0", "8")):
        (sys_root / "block" / name / "device").mkdir(parents=True)
        (sys_root / "block" / name / "size").write_text(sectors)
    (sys_root / "block" / "vda" / "device" / "model").write_text("disk model\n")
    (sys_root / "class" / "net" / "eth0").mkdir(parents=True)
    found = host.hardware(proc, sys_root)
    assert found.memory == 2048 * 1024
    assert found.disks == [host.Disk("/dev/vda", 2048 * 512, "disk model", "")]
    assert found.interfaces == ["eth0"]
    assert found.product_uuid == ""


MOUNTINFO = """21 1 8:1 / / ro,relatime - squashfs /dev/vda ro
22 21 0:21 / /proc rw - proc proc rw
30 21 0:25 / /var rw,nosuid - tmpfs tmpfs rw
31 30 8:3 / /var/lib/kiln rw - ext4 /dev/vdb5 rw
32 21 0:26 / /run rw - tmpfs tmpfs rw
"""


def test_state_on_a_disk_survives_a_reboot_and_state_in_memory_does_not(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text(MOUNTINFO)
    assert host.filesystem_of(Path("/var/lib/kiln/state"), tmp_path) == "ext4"
    assert host.survives_reboot(Path("/var/lib/kiln"), tmp_path)
    assert not host.survives_reboot(Path("/var/lib/other"), tmp_path)
    assert not host.survives_reboot(Path("/run/kiln"), tmp_path)
    assert host.filesystem_of(Path("/varnish"), tmp_path) == "squashfs"
