"""JSON Schema (draft 2020-12) of a machine config document, for editors and other tools.

One schema describes any single document of a config file: it is ``oneOf`` the document kinds,
told apart by their ``kind`` constant. Editors that apply a schema to each document of a
multi-document YAML file (yaml-language-server does) then check every document. Properties use
their YAML (camelCase) names; descriptions come from the models' docstrings; unknown keys are
refused (``additionalProperties: false``), as the loader refuses them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from kiln.machinery.config.model import API_VERSION, DOCUMENT_KINDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"https://{API_VERSION}/machine-config.schema.json"


def json_schema() -> dict[str, Any]:
    """The schema as a JSON-compatible dict (the same for every call)."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "validation") for model in DOCUMENT_KINDS.values()
    ]
    refs, generated = models_json_schema(
        models,
        by_alias=True,
        ref_template="#/$defs/{model}",
    )
    definitions: dict[str, Any] = generated.get("$defs", {})
    for definition in definitions.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)  # generated from the Python name; says nothing useful
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "Kiln machine config document",
        "description": (
            f"One document of a Kiln machine config file (apiVersion {API_VERSION}). "
            "A file holds exactly one MachineConfig and at most one HubJoinConfig document."
        ),
        "oneOf": [refs[pair] for pair in models],
        "$defs": definitions,
    }
