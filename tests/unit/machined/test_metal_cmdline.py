"""A machine booted with ``kiln.hub=`` and ``kiln.join_token=`` joins that hub."""

from __future__ import annotations

from pathlib import Path

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
        assert hub_join_file(cmdline, tmp_path / "hub-join.yaml") is None
    assert not (tmp_path / "hub-join.yaml").exists()


def test_the_last_of_repeated_arguments_wins() -> None:
    assert arguments("a=1 b a=2 c=x=y") == {"a": "2", "c": "x=y"}
