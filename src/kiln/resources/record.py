"""The stored form of a resource, shared by every backend and by watch queues.

A :class:`Record` is immutable: metadata that nobody mutates plus the spec as JSON. Keeping
the spec as JSON makes every hand-out a fresh copy (decoding is cheap and done only when a
reader asks), makes "did the spec change?" a string comparison, and makes the in-memory
backend behave exactly like the SQLite one, which stores the same JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from kiln.resources.definition import SpecClass
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
