"""Errors the command line raises about its own input (files, flags that parse but do not fit)."""

from kiln.errors import KilnError


class CliError(KilnError):
    """A command cannot run with what it was given; exits 1."""
