"""Validate the documents of a machine config file into typed models, collecting every problem.

Each document must be a mapping with ``apiVersion: kiln.dev/v1alpha1`` and a known ``kind``;
it is then validated strictly by its model (YAML keys by their camelCase name only). A file holds
exactly one ``MachineConfig`` and at most one ``HubJoinConfig``. Nothing is raised until every
document has been checked, so one :class:`ConfigError` reports all of a file's problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from kiln.machinery.config.diagnostics import type_name, validation_problems
from kiln.machinery.config.model import (
    API_VERSION,
    DOCUMENT_KINDS,
    HubJoinConfigDocument,
    MachineConfigDocument,
)
from kiln.machinery.config.yamlparse import ParsedDocument, document_label
from kiln.machinery.errors import ConfigError, ConfigProblem

_WHOLE_FILE = "documents"


@dataclass(frozen=True)
class ValidDocuments:
    """The typed documents of a valid file and the label of each (for later messages)."""

    machine_config: MachineConfigDocument
    hub_join: HubJoinConfigDocument | None
    labels: dict[str, str]  # kind -> "document N (Kind)"


def validate_documents(
    documents: Sequence[ParsedDocument],
    source: str,
    problems: Sequence[ConfigProblem] = (),
    *,
    complete: bool = True,
) -> ValidDocuments:
    """Validate ``documents``; raise one ConfigError with ``problems`` and every new problem.

    ``complete`` is false when reading stopped early (a syntax error), in which case a missing
    document is not reported: it may simply not have been reached.
    """
    found = list(problems)
    seen: dict[str, list[str]] = {}
    typed: dict[str, MachineConfigDocument | HubJoinConfigDocument] = {}
    for document in documents:
        label = document_label(document.number, document.value)
        kind = _check_header(document.value, label, found)
        if kind is None:
            continue
        seen.setdefault(kind, []).append(label)
        if not document.ok:
            continue  # its own problems are already reported; avoid follow-on noise
        try:
            model = DOCUMENT_KINDS[kind].model_validate(
                document.value, by_alias=True, by_name=False
            )
        except ValidationError as exc:
            found.extend(validation_problems(exc, label))
            continue
        if isinstance(model, MachineConfigDocument | HubJoinConfigDocument):
            typed.setdefault(kind, model)
    _check_counts(seen, found, complete=complete)
    machine_config = typed.get("MachineConfig")
    if found or not isinstance(machine_config, MachineConfigDocument):
        raise ConfigError(source, found or [ConfigProblem(_WHOLE_FILE, "", "invalid")])
    hub_join = typed.get("HubJoinConfig")
    return ValidDocuments(
        machine_config=machine_config,
        hub_join=hub_join if isinstance(hub_join, HubJoinConfigDocument) else None,
        labels={kind: labels[0] for kind, labels in seen.items()},
    )


def _check_header(value: object, label: str, found: list[ConfigProblem]) -> str | None:
    """The document's kind if its apiVersion and kind are known; otherwise record why not."""
    if not isinstance(value, dict):
        reason = f"a document must be a mapping with apiVersion and kind, got {type_name(value)}"
        found.append(ConfigProblem(label, "", reason))
        return None
    api_version, kind = value.get("apiVersion"), value.get("kind")
    ok = True
    if api_version is None:
        found.append(ConfigProblem(label, "apiVersion", "required"))
        ok = False
    elif api_version != API_VERSION:
        reason = f"unknown apiVersion {api_version!r:.60} (expected {API_VERSION})"
        found.append(ConfigProblem(label, "apiVersion", reason))
        ok = False
    if kind is None:
        found.append(ConfigProblem(label, "kind", "required"))
        return None
    if not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
        known = ", ".join(sorted(DOCUMENT_KINDS))
        found.append(ConfigProblem(label, "kind", f"unknown kind {kind!r:.60} (expected {known})"))
        return None
    return kind if ok else None


def _check_counts(
    seen: dict[str, list[str]], found: list[ConfigProblem], *, complete: bool
) -> None:
    machine_configs = seen.get("MachineConfig", [])
    if not machine_configs and complete:
        reason = "no MachineConfig document (exactly one is required)"
        found.append(ConfigProblem(_WHOLE_FILE, "", reason))
    for kind, labels in seen.items():
        for extra in labels[1:]:
            reason = f"only one {kind} document is allowed (the first is {labels[0]})"
            found.append(ConfigProblem(extra, "", reason))
