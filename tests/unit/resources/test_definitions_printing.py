"""Resource definitions and how `kilnctl get` renders resources: tables, YAML, JSON."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import BaseModel
from resource_kinds import Address, DoubledSpec, SwitchSpec, ThingSpec, UnregisteredSpec, registry

from kiln.resources import (
    InvalidResourceError,
    PrintColumn,
    RegistrationError,
    Registry,
    Resource,
    UnknownTypeError,
    definition,
    definition_of,
    from_dict,
    table_rows,
    to_dict,
    to_json,
    to_yaml,
)


def test_registry_finds_types_by_name_or_alias_ignoring_case() -> None:
    types = registry()
    thing = definition_of(ThingSpec)
    assert types.get("Thing") is thing
    assert types.get("thing") is thing
    assert types.get("TH") is thing
    assert types.get("things") is thing
    assert "th" in types and "nope" not in types
    assert [d.type for d in types] == ["Doubled", "Switch", "Thing"]
    with pytest.raises(UnknownTypeError, match="unknown resource type 'nope'"):
        types.get("nope")


def test_registry_refuses_clashing_names() -> None:
    @definition("Thong", namespace="default", aliases=("TH",))
    class ClashingSpec(BaseModel):
        pass

    types = registry()
    types.register(ThingSpec)  # the same definition again: fine
    with pytest.raises(RegistrationError, match="name 'th' of Thong is already used by Thing"):
        types.register(ClashingSpec)
    assert "Thong" not in types


def test_definitions_are_checked_when_declared() -> None:
    with pytest.raises(RegistrationError, match="invalid resource type name"):
        definition("no spaces allowed", namespace="default")(type("S", (BaseModel,), {}))
    for bad in ("", "a..b", "[0]", "a[x]", "a.", ".a", "a b"):
        with pytest.raises(RegistrationError, match="invalid print column path"):
            PrintColumn("Bad", bad)
    with pytest.raises(UnknownTypeError, match="has no @definition"):
        definition_of(Address)


def test_table_rows_have_standard_columns_then_print_columns() -> None:
    full = Resource.new(
        "a",
        ThingSpec(value=3, ready=True, tags=["x", "y"], addresses=[Address(ip="10.0.0.1")]),
        labels={"role": "cp"},
    )
    sparse = Resource.new("b", ThingSpec())
    headers, rows = table_rows(definition_of(ThingSpec), [full, sparse])
    assert headers == [
        "NAMESPACE", "TYPE", "ID", "VERSION", "VALUE", "FIRST IP", "TAGS", "READY", "LABELLED",
    ]  # fmt: skip
    assert rows == [
        ["default", "Thing", "a", "0", "3", "10.0.0.1", "x,y", "true", "cp"],
        ["default", "Thing", "b", "0", "0", "", "", "false", ""],
    ]


def test_yaml_and_json_round_trip() -> None:
    original = Resource.new(
        "a",
        ThingSpec(value=3, addresses=[Address(ip="10.0.0.1", prefix=16)]),
        labels={"role": "cp"},
        annotations={"note": "n"},
    )
    types = registry()
    from_yaml = from_dict(types, yaml.safe_load(to_yaml(original)))
    from_json = from_dict(types, json.loads(to_json(original)))
    assert from_yaml == original and from_json == original

    text = to_yaml(original)
    assert text.startswith("metadata:\n  namespace: default\n  type: Thing\n  id: a\n")
    assert "spec:\n  value: 3\n" in text


def test_documents_may_leave_metadata_to_defaults() -> None:
    resource = from_dict(
        registry(), {"metadata": {"type": "switch", "id": "s1"}, "spec": {"fail": True}}
    )
    assert resource.pointer.namespace == "config" and resource.metadata.type == "Switch"
    assert resource.spec == SwitchSpec(fail=True) and resource.version == 0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"spec": {}}, "expected a mapping with 'metadata'"),
        ({"metadata": {"type": "Thing"}}, "metadata: id: Field required"),
        ({"metadata": {"type": "Thing", "id": "a", "colour": "red"}}, "metadata: colour"),
        (
            {"metadata": {"type": "Thing", "id": "a"}, "spec": {"value": "many"}},
            "resource default/Thing/a: spec: value: Input should be a valid integer",
        ),
    ],
)
def test_invalid_documents_say_what_is_wrong(document: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidResourceError, match=message):
        from_dict(registry(), document)


def test_documents_of_unknown_types_are_refused() -> None:
    with pytest.raises(UnknownTypeError, match="'Secret'"):
        from_dict(Registry([DoubledSpec]), to_dict(Resource.new("s", UnregisteredSpec())))
