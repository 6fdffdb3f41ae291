"""A template back out as YAML documents (``kiln-hub template export``, and what a sync sends
and compares): every document with ``kind`` first and values left at their defaults out."""

from __future__ import annotations

from typing import Any

import yaml

from kiln.hub.templates.model import ClusterTemplate


def dump_template(template: ClusterTemplate) -> str:
    documents: list[dict[str, Any]] = []
    for document in template.documents():
        body = document.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        first = {"kind": body.pop("kind")}
        if "name" in body:
            first["name"] = body.pop("name")
        documents.append({**first, **body})
    return yaml.safe_dump_all(documents, sort_keys=False, explicit_start=False)
