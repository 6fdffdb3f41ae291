"""The base of every node resource spec: camelCase field names in YAML and JSON, as in the
machine config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Spec(BaseModel):
    """A resource spec: snake_case attributes, camelCase when serialised."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
