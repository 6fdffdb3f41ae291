"""The stored form of a resource, shared by every backend and by watch queues.

A :class:`Record` is immutable: metadata that nobody mutates plus the spec as JSON. Keeping
the spec as JSON makes every hand-out a fresh copy (decoding is cheap and done only when a
reader asks), makes "did the spec change?" a string comparison, and makes the in-memory
backend behave exactly like the SQLite one, which stores the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from kiln.resources.definition import Registry, SpecClass
from kiln.resources.errors import InvalidResourceError
from kiln.resources.resource import Kind, Metadata, Phase, Pointer, Resource


@dataclass(frozen=True, slots=True)
class Record:
    """One stored resource version. Never mutated; replaced by a new record on every write."""

    metadata: Metadata
    spec_class: SpecClass
    spec_json: str

    @classmethod
    def of(cls, metadata: Metadata, spec: BaseModel) -> Record:
        """A record of ``spec`` with ``metadata`` (which must not be mutated afterwards)."""
        return cls(metadata, type(spec), encode_spec(spec))

    @property
    def pointer(self) -> Pointer:
        return self.metadata.pointer

    @property
    def kind(self) -> Kind:
        return Kind(self.metadata.namespace, self.metadata.type)

    @property
    def version(self) -> int:
        return self.metadata.version

    @property
    def owner(self) -> str:
        return self.metadata.owner

    @property
    def phase(self) -> Phase:
        return self.metadata.phase

    @property
    def finalizers(self) -> tuple[str, ...]:
        return self.metadata.finalizers

    def resource(self) -> Resource[Any]:
        """A fresh resource: mutating it changes neither this record nor other hand-outs."""
        try:
            spec = self.spec_class.model_validate_json(self.spec_json)
        except ValidationError as err:
            raise InvalidResourceError(
                f"resource {self.pointer}: stored spec does not match "
                f"{self.spec_class.__qualname__}: {err.errors()[0]['msg']}"
            ) from err
        return Resource(self.metadata.copy(), spec)


def encode_spec(spec: BaseModel) -> str:
    """The spec as compact JSON (by alias, so that decoding accepts it back)."""
    return spec.model_dump_json(by_alias=True)


#: A record as a row of text and numbers, the columns backends store it in (in this order).
ROW_COLUMNS = (
    "namespace",
    "type",
    "id",
    "version",
    "owner",
    "phase",
    "finalizers",
    "labels",
    "annotations",
    "created",
    "updated",
    "spec",
)
Row = tuple[str, str, str, int, str, str, str, str, str, str, str, str]


def to_row(record: Record) -> Row:
    """``record`` as a row (:data:`ROW_COLUMNS`): lists and maps as JSON, times in ISO 8601."""
    m = record.metadata
    return (
        m.namespace,
        m.type,
        m.id,
        m.version,
        m.owner,
        m.phase.value,
        json.dumps(list(m.finalizers)),
        json.dumps(m.labels, sort_keys=True),
        json.dumps(m.annotations, sort_keys=True),
        m.created.isoformat(),
        m.updated.isoformat(),
        record.spec_json,
    )


def from_row(row: Sequence[Any], registry: Registry) -> Record:
    """The record a row holds; the spec class comes from ``registry`` (UnknownTypeError)."""
    namespace, type_, id_, version, owner, phase, finalizers, labels, annotations = row[:9]
    created, updated, spec = row[9:12]
    metadata = Metadata(
        namespace,
        type_,
        id_,
        version=int(version),
        owner=owner,
        phase=Phase(phase),
        finalizers=tuple(json.loads(finalizers)),
        labels=json.loads(labels),
        annotations=json.loads(annotations),
        created=datetime.fromisoformat(created),
        updated=datetime.fromisoformat(updated),
    )
    return Record(metadata, registry.get(type_).spec, spec)
