"""Options of the top-level ``kilnctl`` group that every command can read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click


@dataclass(frozen=True)
class GlobalOptions:
    """``--kilnconfig``, ``--context``, ``--endpoints`` and ``--nodes``, as given (None or
    empty when not)."""

    kilnconfig: Path | None = None
    context: str | None = None
    endpoints: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()

    @property
    def kilnconfig_path(self) -> Path:
        """The kilnconfig to use: ``--kilnconfig``, ``$KILNCONFIG``, then ``~/.kiln/config``."""
        from kiln.machinery import kilnconfig  # not at import: keeps `kilnctl --version` light

        return kilnconfig.default_path(self.kilnconfig)


def split_list(values: tuple[str, ...]) -> tuple[str, ...]:
    """``-n a,b -n c`` → ``("a", "b", "c")``."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def global_options() -> GlobalOptions:
    """The global options of the running command (defaults outside a ``kilnctl`` run)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(GlobalOptions) if ctx is not None else None
    return found or GlobalOptions()


def duration_seconds(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    """A click callback: ``90s``, ``5m``, ``1h30m`` or plain seconds (``90``) → seconds."""
    from kiln.machinery.config.types import parse_duration

    try:
        return parse_duration(value if value[-1:].isalpha() else f"{value}s").total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
