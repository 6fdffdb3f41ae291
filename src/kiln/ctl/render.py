"""Tables for people: rich tables whose first column names the node that answered."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

WIDE = 240  # when not on a terminal, do not wrap cells to 80 columns


def console() -> Console:
    width = None if sys.stdout.isatty() else WIDE
    return Console(highlight=False, width=width, soft_wrap=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain table (no borders, headers in capitals)."""
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in headers:
        out.add_column(header.upper(), overflow="fold")
    for row in rows:
        out.add_row(*row)
    console().print(out)
