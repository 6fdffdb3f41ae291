"""RFC 6902 JSON patches on the MachineConfig document, and how failures are reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kiln.machinery.config import (
    ConfigError,
    JsonPatch,
    MachineConfig,
    PatchError,
    apply_patches,
    parse_patch,
)

Doc = dict[str, Any]


@pytest.fixture
def config(controlplane: Doc, hub_join: Doc) -> MachineConfig:
    return MachineConfig.from_documents([controlplane, hub_join], source="cp.yaml")


def patched(config: MachineConfig, *operations: Doc) -> Doc:
    patch = parse_patch(json.dumps(list(operations)), source="p.json")
    assert isinstance(patch, JsonPatch)
    documents: list[Doc] = apply_patches(config, [patch]).to_documents()
    return documents[0]


def test_operations(config: MachineConfig) -> None:
    doc = patched(
        config,
        {"op": "replace", "path": "/machine/network/hostname", "value": "cp-7"},
        {"op": "add", "path": "/machine/network/interfaces/-", "value": {"name": "eth1"}},
        {"op": "remove", "path": "/machine/network/interfaces/0/routes"},
        {"op": "copy", "from": "/machine/network/nameservers", "path": "/machine/time"},
        {"op": "move", "from": "/machine/time", "path": "/machine/network/nameservers"},
        {"op": "test", "path": "/machine/type", "value": "controlplane"},
        {"op": "add", "path": "/machine/sysctls/vm.swappiness", "value": "0"},
    )
    network = doc["machine"]["network"]
    assert network["hostname"] == "cp-7"
    assert [i["name"] for i in network["interfaces"]] == ["eth0", "eth1"]
    assert "routes" not in network["interfaces"][0]
    assert network["nameservers"] == ["1.1.1.1"]
    assert "time" not in doc["machine"]
    assert doc["machine"]["sysctls"]["vm.swappiness"] == "0"


def test_only_the_machine_config_document_is_patched(config: MachineConfig) -> None:
    with pytest.raises(PatchError, match=r"\(replace /url\): can't replace a non-existent object"):
        patched(config, {"op": "replace", "path": "/url", "value": "https://other"})
    with pytest.raises(ConfigError) as caught:  # validated afterwards like any other patch
        patched(config, {"op": "replace", "path": "/kind", "value": "HubJoinConfig"})
    missing = "documents: no MachineConfig document (exactly one is required)"
    assert f"cp.yaml (after patches): {missing}" in caught.value.lines()


@pytest.mark.parametrize(
    ("operation", "reason"),
    [
        ({"op": "remove", "path": "/machine/network/interfaces/5"},
         "(remove /machine/network/interfaces/5): can't remove a non-existent object '5'"),
        ({"op": "replace", "path": "/machine/time/bootTimeout", "value": "5s"},
         "(replace /machine/time/bootTimeout): member 'time' not found"),
        ({"op": "add", "path": "/machine/network/hostname/x", "value": 1},
         "(add /machine/network/hostname/x): "
         "Cannot apply token 'x' to non-container type a string"),
        ({"op": "copy", "from": "/cluster/nope", "path": "/x"},
         "(copy /cluster/nope to /x): 'nope' does not exist"),
        ({"op": "move", "from": "/machine", "path": "/machine/x"},
         "(move /machine to /machine/x): Cannot move values into their own children"),
        ({"op": "test", "path": "/cluster/token", "value": "guess"},
         "(test /cluster/token): test failed: the value differs"),
        ({"op": "add", "path": "machine", "value": 1},
         "(add machine): Location must start with /"),
    ],
)  # fmt: skip
def test_failures_name_source_operation_and_reason(
    config: MachineConfig, operation: Doc, reason: str
) -> None:
    ok = {"op": "test", "path": "/kind", "value": "MachineConfig"}
    with pytest.raises(PatchError) as caught:
        patched(config, ok, operation)
    assert str(caught.value) == f"p.json: operation 2 of 2 {reason}"


def test_failures_never_quote_the_document(config: MachineConfig) -> None:
    secret = config.machine_config.cluster.secret
    for operation in (
        {"op": "replace", "path": "/cluster/nope/x", "value": 1},
        {"op": "test", "path": "/cluster", "value": {}},
        {"op": "remove", "path": "/cluster/secret/0"},
    ):
        with pytest.raises(PatchError) as caught:
            patched(config, operation)
        assert secret not in str(caught.value)
        assert "token" not in str(caught.value).replace("Cannot apply token", "")


@pytest.mark.parametrize(
    ("operations", "reason"),
    [
        ([1], "expected a mapping, got integer"),
        ([{"path": "/x"}], "'op' must be one of add, remove, replace, move, copy, test, got None"),
        ([{"op": "add", "path": "/x"}], "add needs 'value'"),
        ([{"op": "move", "path": "/x"}], "move needs 'from'"),
        ([{"op": "remove", "path": ["x"]}], "'path' must be a string (a JSON pointer)"),
        ([{"op": "remove", "path": "/x", "value": 1}], "unknown member(s) value"),
    ],
)
def test_malformed_operations_are_refused_when_parsed(operations: list[Any], reason: str) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(json.dumps(operations), source="p.json")
    assert str(caught.value) == f"p.json: operation 1 of 1: {reason}"


def test_the_document_must_stay_a_mapping(config: MachineConfig) -> None:
    with pytest.raises(
        PatchError, match=r"^p.json: the MachineConfig document must stay a mapping$"
    ):
        patched(config, {"op": "replace", "path": "", "value": []})


def test_yaml_operations_and_an_empty_list(config: MachineConfig) -> None:
    patch = parse_patch("- op: replace\n  path: /machine/network/hostname\n  value: cp-3\n")
    assert isinstance(patch, JsonPatch)
    assert apply_patches(config, [patch]).machine_config.machine.network.hostname == "cp-3"
    assert apply_patches(config, [parse_patch("[]")]) == config
