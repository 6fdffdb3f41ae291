"""The MachineConfig container: documents in and out, YAML output, redaction, public API."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import yaml

import kiln.machinery.config as config_api
from kiln.machinery.config import (
    REDACTED,
    ConfigError,
    HubJoinConfigDocument,
    MachineConfig,
    load_config,
)

Doc = dict[str, Any]


def test_to_documents_keeps_what_was_written(controlplane: Doc, hub_join: Doc) -> None:
    config = MachineConfig.from_documents([hub_join, controlplane])
    # MachineConfig first; no defaults (install.wipe, kubernetes, network.cni, ...) added
    assert config.to_documents() == [controlplane, hub_join]


def test_to_yaml_is_ordered_multi_document_yaml(controlplane: Doc, hub_join: Doc) -> None:
    controlplane["machine"]["files"] = [{"path": "/etc/motd", "content": "hello\nworld\n"}]
    text = MachineConfig.from_documents([controlplane, hub_join]).to_yaml()
    assert text.startswith("apiVersion: kiln.dev/v1alpha1\nkind: MachineConfig\nmachine:\n")
    assert "\n---\napiVersion: kiln.dev/v1alpha1\nkind: HubJoinConfig\n" in text
    assert "    content: |\n      hello\n      world\n" in text
    top_keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    documents = ["apiVersion", "kind", "machine", "cluster"]
    assert top_keys == [*documents, "apiVersion", "kind", "url", "joinToken"]
    machine = next(iter(yaml.safe_load_all(text)))["machine"]
    assert list(machine) == [
        "type", "token", "ca", "certSANs", "install", "network", "sysctls", "files"
    ]  # fmt: skip


def test_strings_yaml_would_misread_are_quoted(controlplane: Doc) -> None:
    contents = ["yes", "null", "1.0", "0x10", "2024-01-01", "a\x85b", "\u2028", " lead", "a: b"]
    controlplane["cluster"]["inlineManifests"] = [
        {"name": str(i), "contents": text} for i, text in enumerate(contents)
    ]
    config = MachineConfig.from_documents([controlplane])
    again = load_config(config.to_yaml())
    assert [m.contents for m in again.machine_config.cluster.inline_manifests] == contents


def test_equality_ignores_where_a_config_came_from(controlplane: Doc) -> None:
    text = yaml.safe_dump(controlplane)
    first, second = load_config(text, source="a.yaml"), load_config(text, source="b.yaml")
    assert first == second and first.source != second.source
    assert first.label("MachineConfig") == "document 1 (MachineConfig)"
    assert first.label("HubJoinConfig") == "document (HubJoinConfig)"


def test_from_documents_validates(controlplane: Doc) -> None:
    controlplane["machine"]["network"]["hostname"] = "-bad-"
    with pytest.raises(ConfigError) as caught:
        MachineConfig.from_documents([controlplane], source="api")
    assert caught.value.lines() == [
        "api: document 1 (MachineConfig): machine.network.hostname: "
        "'-bad-' is not a valid hostname (RFC 1123)"
    ]


def test_redacted_hides_every_secret(controlplane: Doc, hub_join: Doc) -> None:
    config = MachineConfig.from_documents([controlplane, hub_join])
    shown = config.redacted().to_documents()
    machine, cluster = shown[0]["machine"], shown[0]["cluster"]
    assert machine["token"] == REDACTED
    assert machine["ca"] == {"crt": controlplane["machine"]["ca"]["crt"], "key": REDACTED}
    assert cluster["ca"]["key"] == cluster["aggregatorCA"]["key"] == REDACTED
    assert cluster["etcd"]["ca"]["key"] == cluster["serviceAccount"]["key"] == REDACTED
    assert cluster["secret"] == cluster["token"] == REDACTED
    assert cluster["secretboxEncryptionSecret"] == REDACTED
    assert shown[1]["joinToken"] == REDACTED
    assert shown[1]["url"] == hub_join["url"]
    # everything else is as it was, and the original is untouched
    assert machine["network"] == controlplane["machine"]["network"]
    assert cluster["ca"]["crt"] == controlplane["cluster"]["ca"]["crt"]
    assert config.to_documents() == [controlplane, hub_join]
    text = config.redacted().to_yaml()
    for secret in (controlplane["cluster"]["secret"], controlplane["machine"]["ca"]["key"]):
        assert secret not in text


def test_redacted_worker_gains_no_fields(worker: Doc) -> None:
    shown = MachineConfig.from_documents([worker]).redacted().to_documents()[0]
    assert "key" not in shown["machine"]["ca"] and "key" not in shown["cluster"]["ca"]
    assert "etcd" not in shown["cluster"] and "serviceAccount" not in shown["cluster"]


def test_built_in_python_by_field_name(controlplane: Doc) -> None:
    config = MachineConfig.from_documents([controlplane])
    hub = HubJoinConfigDocument(
        api_version="kiln.dev/v1alpha1",
        kind="HubJoinConfig",
        url="https://hub.example.com",
        join_token="0123456789",
    )
    built = MachineConfig(config.machine_config, hub)
    assert built.to_documents()[1] == {
        "apiVersion": "kiln.dev/v1alpha1",
        "kind": "HubJoinConfig",
        "url": "https://hub.example.com",
        "joinToken": "0123456789",
    }
    assert load_config(built.to_yaml()) == built


def test_public_api() -> None:
    for name in config_api.__all__:
        assert hasattr(config_api, name), name
    assert str(inspect.signature(config_api.apply_patches)) == (
        "(config: 'MachineConfig', patches: 'Sequence[Patch]') -> 'MachineConfig'"
    )
    assert str(inspect.signature(config_api.parse_patch)) == (
        "(argument: 'str', *, source: 'str | None' = None) -> 'Patch'"
    )
    assert str(inspect.signature(config_api.load_config)) == (
        "(data: 'str | bytes', source: 'str' = '<config>') -> 'MachineConfig'"
    )
