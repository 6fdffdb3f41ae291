"""A machine booted with ``kiln.hub=`` and ``kiln.join_token=`` (kernel command line, or
SMBIOS OEM strings from its firmware) joins that hub."""

from __future__ import annotations

from pathlib import Path

from kiln.machined.platform.metal import smbios
from kiln.machined.platform.metal.cmdline import arguments, hub_join_file
from kiln.machinery.hubjoin import load_hub_join

TOKEN = "id.secret.pin"


def test_the_kernel_arguments_name_the_hub_to_join(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(
        f"console=ttyS0 ro kiln.hub=https://10.5.0.1:8443 kiln.join_token={TOKEN} quiet\n"
    )
    made = hub_join_file(cmdline, tmp_path / "run" / "hub-join.yaml")
    assert made is not None and made.stat().st_mode & 0o777 == 0o600
    document = load_hub_join(made)
    assert document.url == "https://10.5.0.1:8443" and document.join_token == TOKEN


def test_without_both_arguments_nothing_is_joined(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    for text in ("console=ttyS0 ro", "kiln.hub=https://h:8443", f"kiln.join_token={TOKEN}"):
        cmdline.write_text(text)
        assert hub_join_file(cmdline, tmp_path / "hub-join.yaml", tmp_path / "no-dmi") is None
    assert not (tmp_path / "hub-join.yaml").exists()


def test_the_last_of_repeated_arguments_wins() -> None:
    assert arguments("a=1 b a=2 c=x=y") == {"a": "2", "c": "x=y"}


def structure(kind: int, formatted: bytes, *strings: bytes) -> bytes:
    """One SMBIOS structure: header, formatted area, strings, double NUL."""
    header = bytes([kind, 4 + len(formatted), 0x2A, 0x00]) + formatted
    return header + (b"\0".join(strings) + b"\0\0" if strings else b"\0\0")


def table(*oem: bytes) -> bytes:
    system = structure(1, bytes(20), b"QEMU", b"Standard PC")
    return system + structure(11, bytes([len(oem)]), *oem) + structure(127, b"")


def test_smbios_oem_strings_name_the_hub_when_the_kernel_does_not(tmp_path: Path) -> None:
    dmi = tmp_path / "DMI"
    dmi.write_bytes(table(b"kiln.hub=https://10.5.0.1:8443", f"kiln.join_token={TOKEN}".encode()))
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=ttyS0 ro")
    made = hub_join_file(cmdline, tmp_path / "hub-join.yaml", dmi)
    assert made is not None
    assert load_hub_join(made).url == "https://10.5.0.1:8443"
    cmdline.write_text(f"kiln.hub=https://hub:9443 kiln.join_token={TOKEN}")
    made = hub_join_file(cmdline, tmp_path / "hub-join.yaml", dmi)
    assert made is not None and load_hub_join(made).url == "https://hub:9443"  # the kernel wins


def test_oem_strings_of_a_table_and_of_none() -> None:
    assert smbios.oem_strings(table(b"a=1", b"other")) == ["a=1", "other"]
    assert smbios.oem_strings(table()) == []
    assert smbios.oem_strings(b"\x0b\x02") == []  # a broken table ends the walk
    assert smbios.oem_arguments(Path("/nonexistent/DMI")) == {}
