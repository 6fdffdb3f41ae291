"""Properties of configs and patches over generated valid configs.

- a config written to YAML and read back is the same config, with the same shape;
- an empty patch, and a config patched with its own documents, change nothing;
- a strategic patch of some fields sets exactly those fields; so does the equivalent JSON patch.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.machinery.config import MachineConfig, apply_patches, load_config, parse_patch

Doc = dict[str, Any]

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(max_size=30)
WORD = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
HOSTNAME = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
DURATION = st.from_regex(r"([1-9][0-9]{0,2}(h|m|s|ms)){1,3}", fullmatch=True)
IP = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
CIDR = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
).map(lambda pair: f"{pair[0]}/{pair[1]}")
NETWORK = CIDR.map(lambda cidr: str(ipaddress.ip_network(cidr, strict=False)))
PATH = st.from_regex(r"/[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,2}", fullmatch=True).filter(
    lambda path: ".." not in path.split("/")  # a parent step is refused by design
)
URL = st.builds(lambda host, path: f"https://{host}/{path}", HOSTNAME, WORD)

ROUTE = st.fixed_dictionaries(
    {"network": NETWORK}, optional={"gateway": IP, "metric": st.integers(0, 2**32 - 1)}
)


def _interface(name: str) -> st.SearchStrategy[Doc]:
    return st.fixed_dictionaries(
        {"name": st.just(name)},
        optional={
            "dhcp": st.booleans(),
            "addresses": st.lists(CIDR, unique=True, max_size=3),
            "routes": st.lists(ROUTE, unique_by=lambda r: r["network"], max_size=2),
            "mtu": st.integers(68, 65535),
            "ignore": st.booleans(),
        },
    )


INTERFACES = st.lists(WORD, unique=True, max_size=3).flatmap(
    lambda names: st.tuples(*(_interface(name) for name in names)).map(list)
)
FILES = st.lists(
    st.fixed_dictionaries(
        {"path": PATH, "content": st.text(max_size=200)},
        optional={
            "permissions": st.integers(0, 0o7777),
            "op": st.sampled_from(["create", "append", "overwrite"]),
        },
    ),
    unique_by=lambda f: f["path"],
    max_size=3,
)
TAINTS = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.text(min_size=1, max_size=20),
            "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
        },
        optional={"value": TEXT},
    ),
    unique_by=lambda t: t["key"],
    max_size=3,
)
MACHINE_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "install": st.fixed_dictionaries(
            {},
            optional={
                "disk": st.from_regex(r"/dev/[a-z]{1,6}[0-9]?", fullmatch=True),
                "image": TEXT,
                "wipe": st.booleans(),
                "extraKernelArgs": st.lists(TEXT, unique=True, max_size=3),
            },
        ),
        "network": st.fixed_dictionaries(
            {},
            optional={
                "hostname": HOSTNAME,
                "interfaces": INTERFACES,
                "nameservers": st.lists(IP, unique=True, max_size=3),
            },
        ),
        "time": st.fixed_dictionaries(
            {},
            optional={
                "disabled": st.booleans(),
                "servers": st.lists(TEXT, unique=True, max_size=2),
                "bootTimeout": DURATION,
            },
        ),
        "sysctls": st.dictionaries(
            st.from_regex(r"[a-z]{1,5}(\.[a-z_]{1,6}){1,3}", fullmatch=True), TEXT, max_size=3
        ),
        "files": FILES,
        "kubelet": st.fixed_dictionaries(
            {},
            optional={
                "extraArgs": st.dictionaries(TEXT, TEXT, max_size=3),
                "nodeLabels": st.dictionaries(TEXT, TEXT, max_size=3),
                "nodeTaints": TAINTS,
            },
        ),
    },
)
CLUSTER_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "network": st.fixed_dictionaries(
            {},
            optional={
                "podSubnets": st.lists(NETWORK, unique=True, min_size=1, max_size=2),
                "dnsDomain": st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5}){0,2}", fullmatch=True),
            },
        ),
        "kubernetes": st.fixed_dictionaries(
            {"version": st.from_regex(r"v[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)}
        ),
        "extraManifests": st.lists(URL, unique=True, max_size=2),
        "inlineManifests": st.lists(
            st.fixed_dictionaries({"name": st.text(min_size=1, max_size=10), "contents": TEXT}),
            unique_by=lambda m: m["name"],
            max_size=2,
        ),
    },
)
HUB_JOIN = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "apiVersion": st.just("kiln.dev/v1alpha1"),
            "kind": st.just("HubJoinConfig"),
            "url": URL,
            "joinToken": st.text(min_size=8, max_size=40),
        },
        optional={"reconnectMaxBackoff": DURATION},
    ),
)


@st.composite
def configs(draw: st.DrawFn, bases: tuple[Doc, Doc]) -> MachineConfig:
    document = copy.deepcopy(draw(st.sampled_from(bases)))
    document["machine"].update(draw(MACHINE_EXTRAS))
    document["cluster"].update(draw(CLUSTER_EXTRAS))
    hub_join = draw(HUB_JOIN)
    documents = [document] if hub_join is None else [document, hub_join]
    return MachineConfig.from_documents(documents, source="generated")


@SETTINGS
@given(data=st.data())
def test_yaml_round_trip(data: st.DataObject, base_controlplane: Doc, base_worker: Doc) -> None:
    config = data.draw(configs((base_controlplane, base_worker)))
    text = config.to_yaml()
    again = load_config(text, source="again.yaml")
    assert again == config
    assert again.to_documents() == config.to_documents()
    assert again.to_yaml() == text


@SETTINGS
@given(data=st.data())
def test_empty_patch_and_self_patch_change_nothing(
    data: st.DataObject, base_controlplane: Doc, base_worker: Doc
) -> None:
    config = data.draw(configs((base_controlplane, base_worker)))
    assert apply_patches(config, [parse_patch("{}")]).to_documents() == config.to_documents()
    assert apply_patches(config, []).to_documents() == config.to_documents()
    self_patch = parse_patch(yaml.safe_dump_all(config.to_documents()))
    assert apply_patches(config, [self_patch]).to_documents() == config.to_documents()


# Fields a patch can set, with a strategy for a valid new value.
SETTABLE: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("machine", "network", "hostname"): HOSTNAME,
    ("machine", "install", "wipe"): st.booleans(),
    ("machine", "install", "disk"): st.from_regex(r"/dev/[a-z]{1,6}", fullmatch=True),
    ("machine", "time", "bootTimeout"): DURATION,
    ("machine", "sysctls", "kernel.x"): TEXT,
    ("machine", "kubelet", "nodeLabels", "zone"): TEXT,
    ("cluster", "network", "dnsDomain"): st.from_regex(r"[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True),
    ("cluster", "kubernetes", "version"): st.from_regex(r"v1\.[0-9]{2}\.[0-9]", fullmatch=True),
    ("cluster", "controlPlane", "endpoint"): URL,
    ("cluster", "name"): HOSTNAME,
}


def _set(document: Doc, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


@SETTINGS
@given(data=st.data())
def test_patch_of_some_fields_sets_exactly_those(
    data: st.DataObject, base_controlplane: Doc, base_worker: Doc
) -> None:
    config = data.draw(configs((base_controlplane, base_worker)))
    chosen = data.draw(st.lists(st.sampled_from(sorted(SETTABLE)), unique=True, min_size=1))
    values = {path: data.draw(SETTABLE[path]) for path in chosen}
    patch: Doc = {}
    expected = config.to_documents()
    for path, value in values.items():
        _set(patch, path, value)
        _set(expected[0], path, value)

    strategic = apply_patches(config, [parse_patch(json.dumps(patch))])
    assert strategic.to_documents() == expected

    operations = [
        {"op": "add", "path": "/" + "/".join(path), "value": value}
        for path, value in values.items()
    ]
    prepare = [  # JSON patch "add" needs the parent mappings to exist
        {"op": "add", "path": "/" + "/".join(path[:depth]), "value": {}}
        for path in values
        for depth in range(2, len(path))
        if not _exists(config.to_documents()[0], path[:depth])
    ]
    unique_prepare = list({op["path"]: op for op in prepare}.values())
    unique_prepare.sort(key=lambda op: op["path"].count("/"))
    json_patched = apply_patches(config, [parse_patch(json.dumps(unique_prepare + operations))])
    assert json_patched.to_documents() == expected


def _exists(document: Doc, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True
