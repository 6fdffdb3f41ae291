"""Resource types the resource runtime tests use (importable by a child process too)."""

from __future__ import annotations

from pydantic import BaseModel

from kiln.resources import PrintColumn, Registry, Resource, definition


class Address(BaseModel):
    ip: str
    prefix: int = 24


@definition(
    "Thing",
    namespace="default",
    aliases=("th", "things"),
    print_columns=(
        PrintColumn("Value", "value"),
        PrintColumn("First IP", "addresses[0].ip"),
        PrintColumn("Tags", "tags"),
        PrintColumn("Ready", "ready"),
        PrintColumn("Labelled", lambda r: r.metadata.labels.get("role")),
    ),
    description="A test resource with a few kinds of fields.",
)
class ThingSpec(BaseModel):
    value: int = 0
    ready: bool = False
    tags: list[str] = []
    addresses: list[Address] = []


@definition("Doubled", namespace="default", description="Twice a Thing's value.")
class DoubledSpec(BaseModel):
    value: int = 0


@definition("Switch", namespace="config", description="Tells a test controller to fail.")
class SwitchSpec(BaseModel):
    fail: bool = False


@definition("Secret", namespace="secrets", sensitive=True, description="Never registered.")
class UnregisteredSpec(BaseModel):
    data: str = ""


def registry() -> Registry:
    return Registry([ThingSpec, DoubledSpec, SwitchSpec])


def thing(id_: str, value: int = 0, **labels: str) -> Resource[ThingSpec]:
    return Resource.new(id_, ThingSpec(value=value), labels=labels)
