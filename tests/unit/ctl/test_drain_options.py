"""The drain flags of reboot, shutdown, reset and upgrade become one DrainOptions."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from kiln.ctl.drain import drain_options
from kiln.machinery.drain import DEFAULT_TIMEOUT, DrainOptions


@click.command()
@drain_options
def show(drain: DrainOptions) -> None:
    click.echo(repr(drain))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], DrainOptions(skip=False, timeout=DEFAULT_TIMEOUT)),
        (["--no-drain"], DrainOptions(skip=True, timeout=DEFAULT_TIMEOUT)),
        (["--drain-timeout", "90s"], DrainOptions(skip=False, timeout=90.0)),
        (["--drain-timeout", "2m", "--drain"], DrainOptions(skip=False, timeout=120.0)),
    ],
)
def test_the_flags_become_drain_options(args: list[str], expected: DrainOptions) -> None:
    result = CliRunner().invoke(show, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(expected)
    assert expected.answer_within == (0.0 if expected.skip else expected.timeout) + 60.0
