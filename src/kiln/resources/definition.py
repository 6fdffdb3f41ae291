"""Resource definitions: what a resource type is called, its spec class and how it prints.

A spec class declares its definition with the :func:`definition` decorator::

    @definition(
        "MachineStatus",
        namespace="runtime",
        aliases=("ms",),
        print_columns=(PrintColumn("Stage", "stage"), PrintColumn("Ready", "ready")),
        description="The machine's current stage and readiness.",
    )
    class MachineStatusSpec(BaseModel):
        stage: str = "booting"
        ready: bool = False

A :class:`Registry` collects definitions so that readers (``kilnctl get ms``, the SQLite
backend decoding stored specs) can find them by type name or alias.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from pydantic import BaseModel

from kiln.resources.errors import RegistrationError, UnknownTypeError

if TYPE_CHECKING:
    from kiln.resources.resource import Resource

SpecT = TypeVar("SpecT", bound=BaseModel)
#: A pydantic model class used as a resource spec.
SpecClass: TypeAlias = type[BaseModel]

_ATTRIBUTE = "__kiln_definition__"
_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_PATH_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\.")

#: One step of a print column path: a field name or a list index.
PathStep = str | int


@dataclass(frozen=True)
class PrintColumn:
    """A table column of ``kilnctl get``.

    ``getter`` is a dotted path into the spec as JSON (``"stage"``, ``"addresses[0]"``,
    ``"links[1].name"``) or a callable that takes the resource and returns the value.
    """

    name: str
    getter: str | Callable[[Resource[Any]], object]
    steps: tuple[PathStep, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        steps: tuple[PathStep, ...] = ()
        if isinstance(self.getter, str):
            steps = parse_path(self.getter)
        object.__setattr__(self, "steps", steps)


def parse_path(path: str) -> tuple[PathStep, ...]:
    """Parse ``a.b[0].c`` into ``("a", "b", 0, "c")``; raise RegistrationError if malformed."""
    steps: list[PathStep] = []
    pos = 0
    expect_name = True
    while pos < len(path):
        match = _PATH_STEP.match(path, pos)
        if match is None:
            raise RegistrationError(f"invalid print column path {path!r} at offset {pos}")
        name, index = match.group(1), match.group(2)
        if name is not None:
            if not expect_name:
                raise RegistrationError(f"invalid print column path {path!r}: missing '.'")
            steps.append(name)
            expect_name = False
        elif index is not None:
            if not steps:
                raise RegistrationError(f"invalid print column path {path!r}: starts with index")
            steps.append(int(index))
        else:
            if expect_name:
                raise RegistrationError(f"invalid print column path {path!r}: empty step")
            expect_name = True
        pos = match.end()
    if not steps or expect_name:
        raise RegistrationError(f"invalid print column path {path!r}")
    return tuple(steps)


@dataclass(frozen=True)
class ResourceDefinition:
    """Everything the runtime and the CLI know about one resource type."""

    type: str
    spec: SpecClass
    namespace: str
    aliases: tuple[str, ...] = ()
    print_columns: tuple[PrintColumn, ...] = ()
    sensitive: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not _TYPE_NAME.match(self.type):
            raise RegistrationError(f"invalid resource type name {self.type!r}")
        if not self.namespace:
            raise RegistrationError(f"resource type {self.type}: default namespace is empty")

    @property
    def names(self) -> tuple[str, ...]:
        """The type name and its aliases, lowercased: every name it can be looked up by."""
        return (self.type.lower(), *(alias.lower() for alias in self.aliases))


def definition(
    type_name: str,
    /,
    *,
    namespace: str,
    aliases: Iterable[str] = (),
    print_columns: Iterable[PrintColumn] = (),
    sensitive: bool = False,
    description: str = "",
) -> Callable[[type[SpecT]], type[SpecT]]:
    """Class decorator: attach a :class:`ResourceDefinition` to a pydantic spec class."""

    def attach(spec: type[SpecT]) -> type[SpecT]:
        if _ATTRIBUTE in spec.__dict__:
            raise RegistrationError(f"spec class {spec.__qualname__} already has a definition")
        described = ResourceDefinition(
            type=type_name,
            spec=spec,
            namespace=namespace,
            aliases=tuple(aliases),
            print_columns=tuple(print_columns),
            sensitive=sensitive,
            description=description,
        )
        setattr(spec, _ATTRIBUTE, described)
        return spec

    return attach


def definition_of(spec: type[BaseModel] | BaseModel) -> ResourceDefinition:
    """The definition a spec class (or instance) was declared with."""
    cls = spec if isinstance(spec, type) else type(spec)
    found = cls.__dict__.get(_ATTRIBUTE)
    if not isinstance(found, ResourceDefinition):
        raise UnknownTypeError(cls.__qualname__, "spec class has no @definition")
    return found


class Registry:
    """Resource definitions by type name and alias (case-insensitive)."""

    def __init__(self, definitions: Iterable[ResourceDefinition | type[BaseModel]] = ()) -> None:
        self._by_type: dict[str, ResourceDefinition] = {}
        self._by_name: dict[str, ResourceDefinition] = {}
        for item in definitions:
            self.register(item)

    def register(self, item: ResourceDefinition | type[BaseModel]) -> ResourceDefinition:
        """Add a definition (or a decorated spec class); adding the same one again is a no-op."""
        described = item if isinstance(item, ResourceDefinition) else definition_of(item)
        existing = self._by_type.get(described.type)
        if existing is not None:
            if existing == described:
                return existing
            raise RegistrationError(f"resource type {described.type} is already registered")
        for name in described.names:
            clash = self._by_name.get(name)
            if clash is not None:
                raise RegistrationError(
                    f"name {name!r} of {described.type} is already used by {clash.type}"
                )
        self._by_type[described.type] = described
        for name in described.names:
            self._by_name[name] = described
        return described

    def get(self, name: str) -> ResourceDefinition:
        """Look up by exact type name, or by type name or alias ignoring case."""
        found = self._by_type.get(name) or self._by_name.get(name.lower())
        if found is None:
            raise UnknownTypeError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._by_type or name.lower() in self._by_name)

    def __iter__(self) -> Iterator[ResourceDefinition]:
        return iter(sorted(self._by_type.values(), key=lambda d: d.type))

    def __len__(self) -> int:
        return len(self._by_type)
