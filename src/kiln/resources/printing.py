"""Rendering resources for people and files: tables, dicts, YAML and JSON. Pure functions.

``table_rows`` gives the standard NAMESPACE TYPE ID VERSION columns followed by the type's
print columns; ``to_dict``/``from_dict`` round-trip a resource through plain data, which is
what ``to_yaml``/``to_json`` write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from kiln.resources.definition import PathStep, PrintColumn, Registry, ResourceDefinition
from kiln.resources.errors import InvalidResourceError
from kiln.resources.resource import Metadata, Phase, Resource, utc_now

STANDARD_HEADERS = ("NAMESPACE", "TYPE", "ID", "VERSION")


def table_rows(
    definition: ResourceDefinition, resources: Iterable[Resource[Any]]
) -> tuple[list[str], list[list[str]]]:
    """Headers and one row of strings per resource, as ``kilnctl get`` prints them."""
    headers = [*STANDARD_HEADERS, *(column.name.upper() for column in definition.print_columns)]
    rows = []
    for resource in resources:
        spec = resource.spec.model_dump(mode="json", by_alias=True)
        m = resource.metadata
        row = [m.namespace, m.type, m.id, str(m.version)]
        row.extend(column_value(column, resource, spec) for column in definition.print_columns)
        rows.append(row)
    return headers, rows


def column_value(
    column: PrintColumn, resource: Resource[Any], spec: Mapping[str, Any] | None = None
) -> str:
    """One cell: the column's path looked up in the spec as JSON (or its callable's result)."""
    if callable(column.getter):
        return format_value(column.getter(resource))
    if spec is None:
        spec = resource.spec.model_dump(mode="json", by_alias=True)
    return format_value(_lookup(spec, column.steps))


def format_value(value: object) -> str:
    """A cell: "" for missing, true/false, lists comma-joined, mappings as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(format_value(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _lookup(data: object, steps: tuple[PathStep, ...]) -> object:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(data, list) or step >= len(data):
                return None
            data = data[step]
        else:
            if not isinstance(data, Mapping) or step not in data:
                return None
            data = data[step]
    return data


def to_dict(resource: Resource[Any]) -> dict[str, Any]:
    """The resource as plain data: ``{"metadata": {...}, "spec": {...}}`` (spec as JSON)."""
    m = resource.metadata
    return {
        "metadata": {
            "namespace": m.namespace,
            "type": m.type,
            "id": m.id,
            "version": m.version,
            "owner": m.owner,
            "phase": m.phase.value,
            "finalizers": list(m.finalizers),
            "labels": dict(m.labels),
            "annotations": dict(m.annotations),
            "created": m.created.isoformat(),
            "updated": m.updated.isoformat(),
        },
        "spec": resource.spec.model_dump(mode="json", by_alias=True),
    }


def to_yaml(resource: Resource[Any]) -> str:
    return yaml.safe_dump(to_dict(resource), sort_keys=False)


def to_json(resource: Resource[Any]) -> str:
    return json.dumps(to_dict(resource), indent=2)


class _MetadataDocument(BaseModel):
    """Metadata as a document may give it: only ``type`` and ``id`` are required."""

    model_config = ConfigDict(extra="forbid")

    namespace: str | None = None
    type: str
    id: str = Field(min_length=1)
    version: int = Field(default=0, ge=0)
    owner: str = ""
    phase: Phase = Phase.RUNNING
    finalizers: list[str] = []
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    created: AwareDatetime | None = None
    updated: AwareDatetime | None = None


def from_dict(registry: Registry, data: Mapping[str, Any]) -> Resource[Any]:
    """The resource described by ``data`` (as :func:`to_dict` makes it); spec class by type.

    The namespace defaults to the type's default namespace. InvalidResourceError if the
    document is malformed; UnknownTypeError if its type is not registered.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("metadata"), Mapping):
        raise InvalidResourceError("resource document: expected a mapping with 'metadata'")
    try:
        meta = _MetadataDocument.model_validate(data["metadata"])
    except ValidationError as err:
        raise InvalidResourceError(f"resource document: metadata: {_first(err)}") from err
    definition = registry.get(meta.type)
    namespace = meta.namespace or definition.namespace
    where = f"{namespace}/{definition.type}/{meta.id}"
    try:
        spec = definition.spec.model_validate(data.get("spec") or {})
    except ValidationError as err:
        raise InvalidResourceError(f"resource {where}: spec: {_first(err)}") from err
    now = utc_now()
    metadata = Metadata(
        namespace,
        definition.type,
        meta.id,
        version=meta.version,
        owner=meta.owner,
        phase=meta.phase,
        finalizers=tuple(meta.finalizers),
        labels=meta.labels,
        annotations=meta.annotations,
        created=meta.created or now,
        updated=meta.updated or now,
    )
    return Resource(metadata, spec)


def _first(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else str(problem["msg"])
