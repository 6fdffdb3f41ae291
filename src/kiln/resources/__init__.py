"""The resource/controller runtime: resources, their state backends, watches and controllers.

It knows nothing about machines; ``kiln.machinery`` defines resource types on top of it and
``kiln.machined``/``kiln.hub`` run controllers with it. Errors live in
:mod:`kiln.resources.errors`, test seams in :mod:`kiln.resources.testing`.
"""

from kiln.resources.backend import Backend
from kiln.resources.clock import Backoff, Clock, SystemClock
from kiln.resources.context import Reader, ReconcileContext
from kiln.resources.controller import Controller, Input, Output, OutputKind
from kiln.resources.definition import (
    PrintColumn,
    Registry,
    ResourceDefinition,
    definition,
    definition_of,
)
from kiln.resources.errors import (
    AlreadyExistsError,
    FinalizersPendingError,
    InvalidResourceError,
    NotFoundError,
    OwnerConflictError,
    PhaseConflictError,
    RegistrationError,
    RequeueError,
    ResourceError,
    SelectorError,
    StateClosedError,
    StorageError,
    UndeclaredAccessError,
    UnknownTypeError,
    VersionConflictError,
    WatchOverflowError,
)
from kiln.resources.memory import InMemoryState
from kiln.resources.printing import from_dict, table_rows, to_dict, to_json, to_yaml
from kiln.resources.resource import Kind, Metadata, Phase, Pointer, Resource, cast_spec
from kiln.resources.runtime import ControllerRuntime, ControllerStatus
from kiln.resources.selector import Selector
from kiln.resources.sqlite import SqliteState
from kiln.resources.state import State
from kiln.resources.watch import Event, EventType, Watch

__all__ = [
    "AlreadyExistsError",
    "Backend",
    "Backoff",
    "Clock",
    "Controller",
    "ControllerRuntime",
    "ControllerStatus",
    "Event",
    "EventType",
    "FinalizersPendingError",
    "InMemoryState",
    "Input",
    "InvalidResourceError",
    "Kind",
    "Metadata",
    "NotFoundError",
    "Output",
    "OutputKind",
    "OwnerConflictError",
    "Phase",
    "PhaseConflictError",
    "Pointer",
    "PrintColumn",
    "Reader",
    "ReconcileContext",
    "RegistrationError",
    "Registry",
    "RequeueError",
    "Resource",
    "ResourceDefinition",
    "ResourceError",
    "Selector",
    "SelectorError",
    "SqliteState",
    "State",
    "StateClosedError",
    "StorageError",
    "SystemClock",
    "UndeclaredAccessError",
    "UnknownTypeError",
    "VersionConflictError",
    "Watch",
    "WatchOverflowError",
    "cast_spec",
    "definition",
    "definition_of",
    "from_dict",
    "table_rows",
    "to_dict",
    "to_json",
    "to_yaml",
]
