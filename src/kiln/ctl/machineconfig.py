"""``kilnctl machineconfig``: work with machine config files offline."""

from __future__ import annotations

from pathlib import Path

import click

from kiln.ctl.outputs import write_new_files
from kiln.machinery.config import apply_patches, load_config_file, parse_patch


@click.group("machineconfig")
def machineconfig() -> None:
    """Work with machine config files (no machine is contacted)."""


@machineconfig.command("patch")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-p",
    "--patch",
    "patches",
    multiple=True,
    required=True,
    metavar="@FILE|YAML",
    help=(
        "A patch: @file or inline YAML/JSON. A mapping is a strategic merge patch, a list of "
        "operations an RFC 6902 JSON patch. Repeat to apply several, in order."
    ),
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the patched config here (mode 0600) instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists (even FILE itself).")
def patch(file: Path, patches: tuple[str, ...], output: Path | None, force: bool) -> None:
    """Apply patches to the machine config FILE and print or write the result."""
    config = load_config_file(file)
    parsed = [
        parse_patch(argument, source=None if argument.startswith("@") else f"patch {number}")
        for number, argument in enumerate(patches, start=1)
    ]
    text = apply_patches(config, parsed).to_yaml()
    if output is None:
        click.echo(text, nl=False)
        return
    write_new_files({output: text}, force=force)
    click.echo(f"wrote {output}", err=True)
