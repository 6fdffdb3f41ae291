"""A resource: metadata plus a typed spec, and the small types that point at resources.

Make one with :meth:`Resource.new`; the spec class's ``@definition`` supplies the type and the
default namespace::

    hostname = Resource.new("hostname", HostnameSpec(name="node-1"), labels={"role": "cp"})
    hostname.pointer            # Pointer(namespace='network', type='Hostname', id='hostname')

A :class:`~kiln.resources.state.State` fills in version, owner, phase and timestamps when it
stores the resource, and hands out copies: changing a resource you got from a state changes
nothing until you write it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from kiln.resources.definition import SpecClass, definition_of

SpecT = TypeVar("SpecT", bound=BaseModel)


class Phase(StrEnum):
    """Lifecycle phase: a resource is running until its owner starts tearing it down."""

    RUNNING = "running"
    TEARING_DOWN = "tearing-down"


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource type within a namespace: what ``list`` and ``watch_kind`` take."""

    namespace: str
    type: str

    @classmethod
    def of(cls, spec: SpecClass, namespace: str | None = None) -> Kind:
        """The kind of a spec class, in its default namespace unless one is given."""
        described = definition_of(spec)
        return cls(namespace or described.namespace, described.type)

    def pointer(self, id: str) -> Pointer:  # noqa: A002 - resource ids are called id
        return Pointer(self.namespace, self.type, id)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.type}"


@dataclass(frozen=True, slots=True)
class Pointer:
    """The address of one resource: namespace, type and id."""

    namespace: str
    type: str
    id: str

    @classmethod
    def of(
        cls,
        spec: SpecClass,
        id: str,  # noqa: A002
        namespace: str | None = None,
    ) -> Pointer:
        """A pointer to a resource of a spec class, in its default namespace unless given."""
        return Kind.of(spec, namespace).pointer(id)

    @property
    def kind(self) -> Kind:
        return Kind(self.namespace, self.type)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.type}/{self.id}"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what ``created``/``updated`` hold)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Everything about a resource except its spec.

    ``version`` is 0 until the resource is stored, 1 after create, and grows by one on every
    successful write. ``owner`` is the controller that wrote it ("" for the user). Labels and
    annotations may be changed in place before an update; the rest is set by the state.
    """

    namespace: str
    type: str
    id: str
    version: int = 0
    owner: str = ""
    phase: Phase = Phase.RUNNING
    finalizers: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    created: datetime = field(default_factory=utc_now)
    updated: datetime = field(default_factory=utc_now)

    @classmethod
    def new(
        cls,
        namespace: str,
        type: str,  # noqa: A002 - the resource type name
        id: str,  # noqa: A002
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Metadata:
        """Metadata of a resource that is not stored yet."""
        if not (namespace and type and id):
            raise ValueError(f"namespace, type and id must not be empty: {namespace}/{type}/{id}")
        return cls(
            namespace, type, id, labels=dict(labels or {}), annotations=dict(annotations or {})
        )

    @property
    def pointer(self) -> Pointer:
        return Pointer(self.namespace, self.type, self.id)

    def copy(self) -> Metadata:
        """A copy that shares nothing mutable with this one."""
        # Positional construction: several times faster than dataclasses.replace (hot path).
        return Metadata(
            self.namespace,
            self.type,
            self.id,
            self.version,
            self.owner,
            self.phase,
            self.finalizers,
            dict(self.labels),
            dict(self.annotations),
            self.created,
            self.updated,
        )


@dataclass(slots=True)
class Resource(Generic[SpecT]):
    """Metadata plus a spec (a pydantic model described by ``@definition``)."""

    metadata: Metadata
    spec: SpecT

    @classmethod
    def new(
        cls,
        id: str,  # noqa: A002
        spec: SpecT,
        *,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Resource[SpecT]:
        """A new, unstored resource; type and default namespace from the spec's definition."""
        described = definition_of(spec)
        metadata = Metadata.new(
            namespace or described.namespace,
            described.type,
            id,
            labels=labels,
            annotations=annotations,
        )
        return cls(metadata, spec)

    @property
    def pointer(self) -> Pointer:
        return self.metadata.pointer

    @property
    def kind(self) -> Kind:
        return Kind(self.metadata.namespace, self.metadata.type)

    @property
    def id(self) -> str:
        return self.metadata.id

    @property
    def version(self) -> int:
        return self.metadata.version

    def copy(self) -> Resource[SpecT]:
        """A deep copy: changing it leaves this resource untouched."""
        return Resource(self.metadata.copy(), self.spec.model_copy(deep=True))


def cast_spec(resource: Resource[Any], spec: type[SpecT]) -> Resource[SpecT]:
    """``resource`` typed by its spec class; TypeError if the spec is of another class."""
    if not isinstance(resource.spec, spec):
        raise TypeError(
            f"resource {resource.pointer} has a {type(resource.spec).__qualname__} spec, "
            f"not {spec.__qualname__}"
        )
    typed: Resource[SpecT] = resource
    return typed
