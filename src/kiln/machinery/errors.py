"""Errors of the machinery layer (config, patches, secrets, kilnconfig).

::

    KilnError
    └── MachineryError
        ├── ConfigError        a machine config (or part of one) is invalid; carries every problem
        ├── PatchError         a patch cannot be parsed or applied
        ├── SecretsError       a secrets bundle or certificate cannot be read or made
        ├── KilnconfigError    a client kilnconfig file or context is invalid
        ├── SignatureError     an image manifest's signature does not check out
        └── ClientError        a machine API call failed (kiln.machinery.client.errors)
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.errors import KilnError


class MachineryError(KilnError):
    """Base of machinery-layer errors."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config: which document, where inside it, and why."""

    document: str  # e.g. "document 1 (MachineConfig)"
    path: str  # e.g. "machine.network.interfaces[0].addresses[1]"; "" for the whole document
    reason: str

    def __str__(self) -> str:
        where = f"{self.document}: {self.path}" if self.path else self.document
        return f"{where}: {self.reason}"


class ConfigError(MachineryError):
    """A config is invalid. Holds every problem found, not just the first."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "invalid"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{source}: {first}{more}")

    def lines(self) -> list[str]:
        return [f"{self.source}: {problem}" for problem in self.problems]


class PatchError(MachineryError):
    """A config patch cannot be parsed or applied."""


class SecretsError(MachineryError):
    """A secrets bundle, key or certificate cannot be read, verified or generated."""


class KilnconfigError(MachineryError):
    """A kilnconfig file or one of its contexts is invalid or missing."""


class SignatureError(MachineryError):
    """An image manifest whose signature is missing, malformed or made by another key."""
