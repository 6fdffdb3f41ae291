"""The exported JSON Schema describes every model exactly, and example configs conform to it."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from kiln.machinery.config import MachineConfig, json_schema
from kiln.machinery.config import model as config_model

Doc = dict[str, Any]

MODELS = [
    cls
    for _, cls in inspect.getmembers(config_model, inspect.isclass)
    if issubclass(cls, config_model.ConfigModel) and cls is not config_model.ConfigModel
]


def test_header() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(".json")
    assert schema["title"]
    assert schema["oneOf"] == [
        {"$ref": "#/$defs/MachineConfigDocument"},
        {"$ref": "#/$defs/HubJoinConfigDocument"},
    ]
    json.dumps(schema)  # plain JSON


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_model_is_described_exactly(model: type[config_model.ConfigModel]) -> None:
    definition = json_schema()["$defs"][model.__name__]
    assert definition["type"] == "object"
    assert definition["additionalProperties"] is False
    fields = model.model_fields
    aliases = [info.alias or name for name, info in fields.items()]
    assert list(definition["properties"]) == aliases
    required = [info.alias or name for name, info in fields.items() if info.is_required()]
    assert definition.get("required", []) == required
    if model.__doc__ and model.__doc__ != inspect.getdoc(config_model.ConfigModel):
        assert definition["description"] == inspect.cleandoc(model.__doc__)


def test_document_kinds_are_constants() -> None:
    defs = json_schema()["$defs"]
    for kind in ("MachineConfig", "HubJoinConfig"):
        properties = defs[f"{kind}Document"]["properties"]
        assert properties["kind"]["const"] == kind
        assert properties["apiVersion"]["const"] == "kiln.dev/v1alpha1"


def _errors(value: Any, schema: Doc, root: Doc, path: str = "") -> list[str]:
    """A small JSON Schema checker for the keywords this schema uses."""
    if "$ref" in schema:
        return _errors(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, path)
    if "anyOf" in schema or "oneOf" in schema:
        options = [
            _errors(value, option, root, path) for option in schema.get("anyOf") or schema["oneOf"]
        ]
        passing = sum(not found for found in options)
        if ("anyOf" in schema and passing) or passing == 1:
            return []
        return [f"{path}: matches {passing} options"] + [e for found in options for e in found]
    found: list[str] = []
    kinds = {
        "object": dict, "array": list, "string": str, "integer": int, "boolean": bool,
        "null": type(None),
    }  # fmt: skip
    wanted = kinds[schema["type"]] if "type" in schema else object
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        return [f"{path}: not {schema['type']}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: not {schema['const']}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [
            f"{path}.{key}: required" for key in schema.get("required", []) if key not in value
        ]
        for key, item in value.items():
            if key in properties:
                found += _errors(item, properties[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}.{key}: not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += _errors(item, schema["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += _errors(item, schema["items"], root, f"{path}[{index}]")
    return found


def test_example_configs_conform(controlplane: Doc, worker: Doc, hub_join: Doc) -> None:
    schema = json_schema()
    for documents in ([controlplane, hub_join], [worker]):
        for document in MachineConfig.from_documents(documents).to_documents():
            assert _errors(document, schema, schema) == []


def test_the_checker_notices_mistakes(controlplane: Doc) -> None:
    schema = json_schema()
    controlplane["machine"]["netwrk"] = {}
    controlplane["machine"]["network"]["interfaces"][0]["mtu"] = "1500"
    del controlplane["cluster"]["token"]
    assert sorted(_errors(controlplane, schema, schema)) == sorted(
        [
            ": matches 0 options",
            ".machine.netwrk: not allowed",
            ".machine.network.interfaces[0].mtu: matches 0 options",
            ".machine.network.interfaces[0].mtu: not integer",
            ".machine.network.interfaces[0].mtu: not null",
            ".cluster.token: required",
            ".kind: not HubJoinConfig",
            ".url: required",
            ".joinToken: required",
            ".machine: not allowed",
            ".cluster: not allowed",
        ]
    )


def test_examples_pass_a_real_json_schema_validator(controlplane: Doc, hub_join: Doc) -> None:
    import jsonschema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for document in (controlplane, hub_join):
        jsonschema.Draft202012Validator(schema).validate(document)
