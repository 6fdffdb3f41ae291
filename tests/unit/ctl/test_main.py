"""kilnctl's error boundary: one `error:` line per problem, exit 1 for errors, 2 for usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.ctl.main import run


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No such command 'no-such-command'")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No such option '--no-such-option'")
    assert err.count("\n") == 1


def test_version_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("kilnctl, version ")


def test_a_missing_file_names_the_file_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{tmp_path}/absent.yaml"
    assert run(["validate", "-f", missing, "--mode", "metal"]) == 1
    assert capsys.readouterr().err == f"error: {missing}: No such file or directory\n"


@pytest.mark.parametrize("given", ["0s", "soon"])
def test_a_drain_timeout_that_is_no_positive_duration_is_a_usage_error(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["reboot", "-e", "127.0.0.1:1", "--drain-timeout", given]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "drain-timeout" in err, err
