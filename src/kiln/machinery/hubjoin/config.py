"""The hub-join file: one ``HubJoinConfig`` document (``kiln-machined --hub-join FILE``).

The same document may also sit in a machine config beside its ``MachineConfig``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from kiln.machinery.config import API_VERSION, ConfigError, HubJoinConfigDocument
from kiln.machinery.config.diagnostics import validation_problems
from kiln.machinery.errors import ConfigProblem
from kiln.machinery.privatefile import write_private_file

LABEL = "document 1 (HubJoinConfig)"


def hub_join_document(url: str, token: str, reconnect_max_backoff: str = "60s") -> dict[str, str]:
    return {
        "apiVersion": API_VERSION,
        "kind": "HubJoinConfig",
        "url": url,
        "joinToken": token,
        "reconnectMaxBackoff": reconnect_max_backoff,
    }


def load_hub_join(path: Path) -> HubJoinConfigDocument:
    """Read and validate a hub-join file; ConfigError naming every problem, OSError if unread."""
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(source, [ConfigProblem(LABEL, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        reason = "expected a HubJoinConfig document (a mapping)"
        raise ConfigError(source, [ConfigProblem(LABEL, "", reason)])
    try:
        return HubJoinConfigDocument.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, LABEL)) from None


def write_hub_join(path: Path, url: str, token: str) -> None:
    """Write a hub-join file (mode 0600: it holds the token)."""
    text = yaml.safe_dump(hub_join_document(url, token), sort_keys=False)
    write_private_file(path, text)
