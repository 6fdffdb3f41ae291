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

    ``complete`` is false when reading stopped early (a syntax error, too many documents): then
    only ``problems`` are reported, as the documents read may not be all there are.
    """
    found = list(problems)
    if not complete:
        raise ConfigError(source, found)  # fix the YAML first; the schema comes after
    seen: dict[str, list[str]] = {}
    typed: dict[str, MachineConfigDocument | HubJoinConfigDocument] = {}
    unknown_broken = False
    for document in documents:
        label = document_label(document.number, document.value)
        kind = _kind_of(document.value)
        if kind is not None:
            seen.setdefault(kind, []).append(label)
        if not document.ok:  # its own problems are reported already; avoid follow-on noise
            unknown_broken = unknown_broken or kind is None
            continue
        if not _header_ok(document.value, label, found) or kind is None:
            continue
        try:
            model = DOCUMENT_KINDS[kind].model_validate(
                document.value, by_alias=True, by_name=False
            )
        except ValidationError as exc:
            found.extend(validation_problems(exc, label))
            continue
        if isinstance(model, MachineConfigDocument | HubJoinConfigDocument):
            typed.setdefault(kind, model)
    _check_counts(seen, found, may_be_missing=not unknown_broken)
    machine_config = typed.get("MachineConfig")
    if found or not isinstance(machine_config, MachineConfigDocument):
        raise ConfigError(source, found or [ConfigProblem(_WHOLE_FILE, "", "invalid")])
    hub_join = typed.get("HubJoinConfig")
    return ValidDocuments(
        machine_config=machine_config,
        hub_join=hub_join if isinstance(hub_join, HubJoinConfigDocument) else None,
        labels={kind: labels[0] for kind, labels in seen.items()},
    )


def _header_ok(value: object, label: str, found: list[ConfigProblem]) -> bool:
    """Whether the document's apiVersion and kind are known; if not, record why."""
    if not isinstance(value, dict):
        reason = f"a document must be a mapping with apiVersion and kind, got {type_name(value)}"
        found.append(ConfigProblem(label, "", reason))
        return False
    api_version, kind = value.get("apiVersion"), value.get("kind")
    before = len(found)
    if api_version is None:
        found.append(ConfigProblem(label, "apiVersion", "required"))
    elif api_version != API_VERSION:
        reason = f"unknown apiVersion {api_version!r:.60} (expected {API_VERSION})"
        found.append(ConfigProblem(label, "apiVersion", reason))
    if kind is None:
        found.append(ConfigProblem(label, "kind", "required"))
    elif not isinstance(kind, str) or kind not in DOCUMENT_KINDS:
        known = ", ".join(sorted(DOCUMENT_KINDS))
        found.append(ConfigProblem(label, "kind", f"unknown kind {kind!r:.60} (expected {known})"))
    return len(found) == before


def _kind_of(value: object) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) and kind in DOCUMENT_KINDS else None


def _check_counts(
    seen: dict[str, list[str]], found: list[ConfigProblem], *, may_be_missing: bool
) -> None:
    """Exactly one MachineConfig, at most one of every other kind.

    A missing MachineConfig is not reported when ``may_be_missing`` is false: a document too
    broken to tell its kind may be it.
    """
    if not seen.get("MachineConfig") and may_be_missing:
        reason = "no MachineConfig document (exactly one is required)"
        found.append(ConfigProblem(_WHOLE_FILE, "", reason))
    for kind, labels in seen.items():
        for extra in labels[1:]:
            reason = f"only one {kind} document is allowed (the first is {labels[0]})"
            found.append(ConfigProblem(extra, "", reason))
