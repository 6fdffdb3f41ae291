"""The controller contract: a name, declared inputs and outputs, and a reconcile.

Controllers are level-triggered: ``reconcile`` reads the inputs it declared and makes its
outputs match, whatever changed. The runtime calls it once at start and again after any change
to an input (or to one of its own outputs)::

    class HostnameController(Controller):
        name = "network.HostnameController"

        def inputs(self) -> Sequence[Input]:
            return [Input.of(HostnameConfigSpec)]

        def outputs(self) -> Sequence[Output]:
            return [Output.of(HostnameSpec)]

        async def reconcile(self, ctx: ReconcileContext) -> None:
            for config in await ctx.reader.list(HostnameConfigSpec):
                # create or update the output; no write when it already matches
                await ctx.modify(Resource.new(config.id, HostnameSpec(name=config.spec.name)))
            await ctx.cleanup_outputs(HostnameSpec)  # outputs whose config is gone

Only the runtime enforces declarations: reading an undeclared type or writing anything but a
declared output raises :class:`~kiln.resources.errors.UndeclaredAccessError`, and outputs are
written with the controller's name as owner, so nobody else can change them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from kiln.resources.definition import SpecClass
from kiln.resources.resource import Kind, Pointer

if TYPE_CHECKING:
    from kiln.resources.context import ReconcileContext


@dataclass(frozen=True, slots=True)
class Input:
    """A kind the controller reads and reacts to; with ``id``, only that one resource."""

    namespace: str
    type: str
    id: str | None = None

    @classmethod
    def of(
        cls,
        spec: SpecClass,
        *,
        namespace: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> Input:
        kind = Kind.of(spec, namespace)
        return cls(kind.namespace, kind.type, id)

    @property
    def resource_kind(self) -> Kind:
        return Kind(self.namespace, self.type)

    @property
    def pointer(self) -> Pointer | None:
        return Pointer(self.namespace, self.type, self.id) if self.id is not None else None


class OutputKind(StrEnum):
    """Whether other controllers may also write resources of an output type."""

    EXCLUSIVE = "exclusive"  # this controller is the only writer of the type
    SHARED = "shared"  # several controllers write it, each only its own resources


@dataclass(frozen=True, slots=True)
class Output:
    """A kind the controller writes (and owns what it writes)."""

    namespace: str
    type: str
    kind: OutputKind = OutputKind.EXCLUSIVE

    @classmethod
    def of(
        cls,
        spec: SpecClass,
        kind: OutputKind = OutputKind.EXCLUSIVE,
        *,
        namespace: str | None = None,
    ) -> Output:
        resource_kind = Kind.of(spec, namespace)
        return cls(resource_kind.namespace, resource_kind.type, kind)

    @property
    def resource_kind(self) -> Kind:
        return Kind(self.namespace, self.type)


class Controller(ABC):
    """Turns declared inputs into declared outputs; see the module docstring."""

    #: Unique among the controllers of a runtime; the owner of everything it writes.
    name: str
    #: Seconds the runtime waits after a change before reconciling, so that a burst of changes
    #: is one reconcile (with every change of the burst in ``ctx.changed``); the first run
    #: never waits.
    coalesce: float = 0.0

    @abstractmethod
    def inputs(self) -> Sequence[Input]:
        """What the controller reads; a change to any of these triggers a reconcile."""

    @abstractmethod
    def outputs(self) -> Sequence[Output]:
        """What the controller writes."""

    @abstractmethod
    async def reconcile(self, ctx: ReconcileContext) -> None:
        """Make the outputs match the inputs. Raise to be retried with backoff."""
