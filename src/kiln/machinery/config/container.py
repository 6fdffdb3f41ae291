"""A whole machine config: its typed documents, and the only ways in and out of plain data.

:meth:`MachineConfig.from_documents` and :meth:`MachineConfig.to_documents` are the boundary
between typed models and JSON-like dicts (for YAML, patches and the API); nothing else in the
config package hands raw dicts across modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel

from kiln.machinery.config.documents import validate_documents
from kiln.machinery.config.model import HubJoinConfigDocument, MachineConfigDocument
from kiln.machinery.config.yamlparse import JSONValue, ParsedDocument

REDACTED = "******"

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class MachineConfig:
    """The documents of one machine config file (treat the models as read-only).

    Two configs are equal when their documents are; ``source`` (where it was read from, used in
    error messages) and ``labels`` do not take part.
    """

    machine_config: MachineConfigDocument
    hub_join: HubJoinConfigDocument | None = None
    source: str = field(default="<config>", compare=False)
    # kind -> "document N (Kind)" as the file numbered it, for messages about a loaded file
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_documents(
        cls, documents: Sequence[Mapping[str, Any]], source: str = "<config>"
    ) -> MachineConfig:
        """Validate plain documents (as :meth:`to_documents` returns them); raise ConfigError."""
        parsed = [
            ParsedDocument(number, cast(JSONValue, dict(document)), ok=True)
            for number, document in enumerate(documents, start=1)
        ]
        valid = validate_documents(parsed, source)
        return cls(valid.machine_config, valid.hub_join, source, valid.labels)

    def label(self, kind: str) -> str:
        """How messages name the document of ``kind``: ``document 1 (MachineConfig)``."""
        return self.labels.get(kind, f"document ({kind})")

    def to_documents(self) -> list[dict[str, Any]]:
        """The documents as JSON-compatible dicts by YAML name, MachineConfig first.

        Only values that were set are included (no defaults, no nulls), so a file read and
        written again keeps its shape and stays small.
        """
        models: list[BaseModel] = [self.machine_config]
        if self.hub_join is not None:
            models.append(self.hub_join)
        return [
            model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
            for model in models
        ]

    def to_yaml(self) -> str:
        """Multi-document YAML with keys in schema order; multi-line strings as ``|`` blocks."""
        return yaml.dump_all(
            self.to_documents(),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=4096,
        )

    def redacted(self) -> MachineConfig:
        """A copy with every secret replaced by ``******``, for showing to readers.

        The copy is for display only: it no longer validates (a redacted key is not a key).
        """
        machine = self.machine_config.machine
        cluster = self.machine_config.cluster
        new_cluster = _replace(
            cluster,
            ca=_replace(cluster.ca, key=_hide(cluster.ca.key)),
            secret=_hide(cluster.secret),
            token=_hide(cluster.token),
            secretbox_encryption_secret=_hide(cluster.secretbox_encryption_secret),
        )
        if cluster.aggregator_ca is not None:
            aggregator = _replace(cluster.aggregator_ca, key=_hide(cluster.aggregator_ca.key))
            new_cluster = _replace(new_cluster, aggregator_ca=aggregator)
        if cluster.service_account is not None:
            account = _replace(cluster.service_account, key=_hide(cluster.service_account.key))
            new_cluster = _replace(new_cluster, service_account=account)
        if cluster.etcd is not None:
            etcd_ca = _replace(cluster.etcd.ca, key=_hide(cluster.etcd.ca.key))
            new_cluster = _replace(new_cluster, etcd=_replace(cluster.etcd, ca=etcd_ca))
        new_machine = _replace(
            machine, token=_hide(machine.token), ca=_replace(machine.ca, key=_hide(machine.ca.key))
        )
        document = _replace(self.machine_config, machine=new_machine, cluster=new_cluster)
        hub_join = self.hub_join
        if hub_join is not None:
            hub_join = _replace(hub_join, join_token=_hide(hub_join.join_token))
        return MachineConfig(document, hub_join, self.source, self.labels)


def _hide(secret: str | None) -> str | None:
    return None if secret is None else REDACTED


def _replace(model: _Model, **changes: object) -> _Model:
    """A deep copy of ``model`` with ``changes``; a change to ``None`` keeps the field as it was.

    Fields that were unset stay unset, so a redacted config dumps with the same shape.
    """
    update = {name: value for name, value in changes.items() if value is not None}
    return model.model_copy(update=update, deep=True)


class _Dumper(yaml.SafeDumper):
    """Safe dumper writing multi-line strings (file contents, manifests) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if any(char in _LINE_BREAKS for char in value):
        style = '"'  # PyYAML would write these raw, and a reader would take them as line breaks
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LINE_BREAKS = frozenset("\x85\u2028\u2029")


_Dumper.add_representer(str, _represent_str)
