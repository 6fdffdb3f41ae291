"""Strategic merge patches: keyed list merge, append, ``$patch: delete``, documents by kind."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.machinery.config import (
    ConfigError,
    MachineConfig,
    PatchError,
    StrategicPatch,
    apply_patches,
    parse_patch,
)

Doc = dict[str, Any]


@pytest.fixture
def config(controlplane: Doc) -> MachineConfig:
    return MachineConfig.from_documents([controlplane], source="cp.yaml")


def patched(config: MachineConfig, *patches: str) -> Doc:
    """The MachineConfig document after ``patches``, as plain data."""
    result = apply_patches(config, [parse_patch(patch, source="p") for patch in patches])
    documents: list[Doc] = result.to_documents()
    return documents[0]


def test_mappings_merge_recursively_and_scalars_replace(config: MachineConfig) -> None:
    doc = patched(config, "machine: {network: {hostname: cp-9}, sysctls: {vm.swappiness: '0'}}")
    assert doc["machine"]["network"]["hostname"] == "cp-9"
    assert doc["machine"]["network"]["interfaces"][0]["name"] == "eth0"  # untouched
    assert doc["machine"]["sysctls"] == {"net.ipv4.ip_forward": "1", "vm.swappiness": "0"}


def test_named_list_items_merge_by_key(config: MachineConfig) -> None:
    doc = patched(
        config,
        """
machine:
  network:
    interfaces:
      - name: eth0
        mtu: 9000
        addresses: [10.0.0.11/24, 10.0.0.10/24]
        routes:
          - {network: 0.0.0.0/0, metric: 100}
          - {network: 192.168.0.0/16, gateway: 10.0.0.254}
      - name: eth1
        dhcp: true
""",
    )
    assert doc["machine"]["network"]["interfaces"] == [
        {
            "name": "eth0",
            "addresses": ["10.0.0.10/24", "fd00::10/64", "10.0.0.11/24"],
            "routes": [
                {"network": "0.0.0.0/0", "gateway": "10.0.0.1", "metric": 100},
                {"network": "192.168.0.0/16", "gateway": "10.0.0.254"},
            ],
            "mtu": 9000,
        },
        {"name": "eth1", "dhcp": True},
    ]


@pytest.mark.parametrize(
    ("section", "key", "first", "second"),
    [
        (("machine", "files"), "path", {"path": "/etc/a", "content": "a"}, {"permissions": 384}),
        (("machine", "kubelet", "nodeTaints"), "key", {"key": "gpu", "effect": "NoSchedule"}, {}),
        (
            ("cluster", "inlineManifests"),
            "name",
            {"name": "cni", "contents": "a"},
            {"contents": "b"},
        ),
    ],
)
def test_other_named_lists(
    config: MachineConfig, section: tuple[str, ...], key: str, first: Doc, second: Doc
) -> None:
    def nest(value: object) -> str:
        for part in reversed(section):
            value = {part: value}
        return repr(value)  # a Python dict literal of str/int is valid flow YAML

    doc = patched(config, nest([first]), nest([{key: first[key], **second}]))
    items = doc
    for part in section:
        items = items[part]
    assert items == [{**first, **second}]


def test_other_lists_append_without_duplicates(config: MachineConfig) -> None:
    doc = patched(
        config,
        "machine: {network: {nameservers: [8.8.8.8, 1.1.1.1]}, "
        "certSANs: [cp.example.com, 10.0.0.9]}",
    )
    assert doc["machine"]["network"]["nameservers"] == ["1.1.1.1", "8.8.8.8"]
    assert doc["machine"]["certSANs"] == ["10.0.0.10", "cp.example.com", "10.0.0.9"]


def test_delete_a_key_and_a_section(config: MachineConfig) -> None:
    doc = patched(
        config,
        "machine: {network: {hostname: {$patch: delete}}, install: {$patch: delete}}",
    )
    assert "hostname" not in doc["machine"]["network"]
    assert "install" not in doc["machine"]


def test_delete_a_named_list_item_and_a_nested_one(config: MachineConfig) -> None:
    doc = patched(
        config,
        "machine: {network: {interfaces: [{name: eth1, dhcp: true}]}}",
        """
machine:
  network:
    interfaces:
      - name: eth0
        routes: [{network: 0.0.0.0/0, $patch: delete}]
      - {name: eth1, $patch: delete}
""",
    )
    assert doc["machine"]["network"]["interfaces"] == [
        {"name": "eth0", "addresses": ["10.0.0.10/24", "fd00::10/64"], "routes": []}
    ]


def test_deleting_what_is_not_there_is_a_no_op(config: MachineConfig) -> None:
    patch = (
        "machine: {time: {$patch: delete}, network: {interfaces: [{name: eth9, $patch: delete}]}}"
    )
    assert patched(config, patch, patch) == config.to_documents()[0]


def test_deleting_inside_a_new_section_leaves_it_empty(config: MachineConfig) -> None:
    doc = patched(config, "machine: {time: {bootTimeout: {$patch: delete}, disabled: true}}")
    assert doc["machine"]["time"] == {"disabled": True}


def test_documents_are_added_merged_and_deleted_by_kind(config: MachineConfig) -> None:
    add_hub = (
        "apiVersion: kiln.dev/v1alpha1\nkind: HubJoinConfig\n"
        "url: https://hub.example.com\njoinToken: token-0123456789\n"
    )
    with_hub = apply_patches(config, [parse_patch(add_hub)])
    assert with_hub.hub_join is not None and with_hub.hub_join.url == "https://hub.example.com"

    two_docs = "machine: {network: {hostname: cp-2}}\n---\nkind: HubJoinConfig\nurl: https://h2\n"
    changed = apply_patches(with_hub, [parse_patch(two_docs)])
    assert changed.machine_config.machine.network.hostname == "cp-2"
    assert changed.hub_join is not None and changed.hub_join.url == "https://h2"
    assert changed.hub_join.join_token == "token-0123456789"

    removed = apply_patches(changed, [parse_patch("kind: HubJoinConfig\n$patch: delete\n")])
    assert removed.hub_join is None


def test_patches_do_not_change_their_inputs(config: MachineConfig) -> None:
    before = config.to_documents()
    patch = parse_patch("machine: {network: {interfaces: [{name: eth0, mtu: 1400}]}}")
    assert isinstance(patch, StrategicPatch)
    first = apply_patches(config, [patch])
    second = apply_patches(config, [patch])
    assert first == second
    assert config.to_documents() == before
    assert patch.documents == (
        {"machine": {"network": {"interfaces": [{"name": "eth0", "mtu": 1400}]}}},
    )


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("machine: {network: {hostname: {$patch: replace}}}",
         "p: machine.network.hostname: unknown $patch 'replace' (only 'delete' is supported)"),
        ("machine: {install: {$patch: delete, disk: /dev/vda}}",
         "p: machine.install: $patch: delete cannot be combined with disk"),
        ("machine: {network: {interfaces: [{name: eth0, $patch: delete, mtu: 1}]}}",
         "p: machine.network.interfaces[0]: $patch: delete cannot be combined with mtu"),
        ("machine: {network: {interfaces: [{dhcp: true}]}}",
         "p: machine.network.interfaces[0]: items of this list merge by 'name'; this one has none"),
        ("machine: {certSANs: [{$patch: delete}]}",
         "p: machine.certSANs[0]: $patch is only allowed in mappings and named list items"),
        ("kind: HubJoinConfig\nurl: https://h\n$patch: delete\n",
         "p: $patch: delete cannot be combined with url"),
        ("a: 1\n---\nb: {$patch: nope}\n",
         "p: document 2: b: unknown $patch 'nope' (only 'delete' is supported)"),
    ],
)  # fmt: skip
def test_bad_directives(config: MachineConfig, patch: str, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_patches(config, [parse_patch(patch, source="p")])
    assert str(caught.value) == message


def test_a_patch_cannot_make_an_invalid_config(config: MachineConfig) -> None:
    with pytest.raises(ConfigError) as caught:
        patched(config, "machine: {network: {interfaces: [{name: eth0, addresses: [10.1.1.1]}]}}")
    assert caught.value.lines() == [
        "cp.yaml (after patches): document 1 (MachineConfig): "
        "machine.network.interfaces[0].addresses[2]: "
        "'10.1.1.1' is not an address in CIDR form (e.g. 192.168.1.10/24)"
    ]


def test_worker_patched_with_a_key_is_refused(worker: Doc, pki: dict[str, Doc]) -> None:
    config = MachineConfig.from_documents([worker], source="w.yaml")
    with pytest.raises(ConfigError, match=r"a worker config must not carry CA or signing keys"):
        patched(config, f"cluster: {{ca: {{key: {pki['kubernetes']['key']}}}}}")


def test_patch_order_matters(config: MachineConfig) -> None:
    first, second = "machine: {network: {hostname: a}}", "machine: {network: {hostname: b}}"
    assert patched(config, first, second)["machine"]["network"]["hostname"] == "b"
    assert patched(config, second, first)["machine"]["network"]["hostname"] == "a"

    remove = '[{"op": "remove", "path": "/machine/network/nameservers/0"}]'
    add = "machine: {network: {nameservers: [8.8.8.8]}}"
    assert patched(config, remove, add)["machine"]["network"]["nameservers"] == ["8.8.8.8"]
    assert patched(config, add, remove)["machine"]["network"]["nameservers"] == ["8.8.8.8"]
    delete = "machine: {network: {nameservers: {$patch: delete}}}"
    assert "nameservers" not in patched(config, add, delete)["machine"]["network"]
    assert patched(config, delete, add)["machine"]["network"]["nameservers"] == ["8.8.8.8"]
