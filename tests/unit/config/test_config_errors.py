"""Every kind of config error names its document, its path as written in YAML, and the reason."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kiln.machinery.config import ConfigError, ConfigProblem, load_config

Doc = dict[str, Any]
MC = "document 1 (MachineConfig)"


def dump(*documents: object) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def problems(*documents: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(dump(*documents), source="c.yaml")
    assert caught.value.source == "c.yaml"
    return [str(problem) for problem in caught.value.problems]


def test_valid_controlplane_and_worker_load(controlplane: Doc, worker: Doc, hub_join: Doc) -> None:
    config = load_config(dump(controlplane, hub_join))
    assert config.machine_config.machine.network.interfaces[0].addresses[1] == "fd00::10/64"
    assert config.hub_join is not None and config.hub_join.join_token == hub_join["joinToken"]
    assert load_config(dump(worker)).hub_join is None


def test_unknown_key(controlplane: Doc) -> None:
    controlplane["machine"]["network"]["hostnmae"] = "x"
    assert problems(controlplane) == [f"{MC}: machine.network.hostnmae: unknown key"]


def test_python_field_names_are_not_yaml_keys(controlplane: Doc) -> None:
    controlplane["machine"]["cert_sans"] = controlplane["machine"].pop("certSANs")
    assert problems(controlplane) == [f"{MC}: machine.cert_sans: unknown key"]


@pytest.mark.parametrize(
    ("value", "got"),
    [("1500", "string"), (1500.0, "number"), (True, "boolean"), ([1500], "list"), (None, None)],
)
def test_wrong_type(controlplane: Doc, value: object, got: str | None) -> None:
    controlplane["machine"]["network"]["interfaces"][0]["mtu"] = value
    if got is None:  # null is the same as leaving an optional field out
        load_config(dump(controlplane))
        return
    path = "machine.network.interfaces[0].mtu"
    assert problems(controlplane) == [f"{MC}: {path}: expected an integer, got {got}"]


def test_wrong_type_for_a_section(controlplane: Doc) -> None:
    controlplane["machine"]["install"] = ["/dev/sda"]
    assert problems(controlplane) == [f"{MC}: machine.install: expected a mapping, got list"]


def test_invalid_cidr(controlplane: Doc) -> None:
    controlplane["machine"]["network"]["interfaces"][0]["addresses"][1] = "10.0.0.300/24"
    assert problems(controlplane) == [
        f"{MC}: machine.network.interfaces[0].addresses[1]: "
        "'10.0.0.300/24' is not an address in CIDR form (e.g. 192.168.1.10/24)"
    ]


def test_invalid_network_cidr_in_a_route(controlplane: Doc) -> None:
    controlplane["machine"]["network"]["interfaces"][0]["routes"][0]["network"] = "10.0.0.1/8"
    [problem] = problems(controlplane)
    assert problem.startswith(
        f"{MC}: machine.network.interfaces[0].routes[0].network: "
        "'10.0.0.1/8' is not a valid CIDR network: "
    )


_HTTPS = "is not a valid URL (expected https://HOST[:PORT][/PATH])"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.10:6443", f"'http://10.0.0.10:6443' {_HTTPS}"),
        ("https://:6443", f"'https://:6443' {_HTTPS}"),
        ("https://cp:0", "'https://cp:0' has port 0"),
        (
            "https://c p",
            "'https://c p' is not a valid URL (it contains spaces or control characters)",
        ),
    ],
)
def test_bad_url(controlplane: Doc, url: str, reason: str) -> None:
    controlplane["cluster"]["controlPlane"]["endpoint"] = url
    assert problems(controlplane) == [f"{MC}: cluster.controlPlane.endpoint: {reason}"]


def test_bad_duration(controlplane: Doc) -> None:
    controlplane["machine"]["time"] = {"bootTimeout": "5 minutes"}
    assert problems(controlplane) == [
        f"{MC}: machine.time.bootTimeout: "
        "'5 minutes' is not a duration (use e.g. 30s, 5m, 1h30m, 500ms)"
    ]


@pytest.mark.parametrize(
    "token", ["abcdef0123456789abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123456789abcdef\n"]
)
def test_bad_bootstrap_token(controlplane: Doc, token: str) -> None:
    controlplane["cluster"]["token"] = token
    assert problems(controlplane) == [
        f"{MC}: cluster.token: bootstrap token must match [a-z0-9]{{6}}.[a-z0-9]{{16}}"
    ]


def test_missing_required(controlplane: Doc) -> None:
    del controlplane["cluster"]["name"]
    del controlplane["machine"]["ca"]["crt"]
    assert problems(controlplane) == [
        f"{MC}: machine.ca.crt: required",
        f"{MC}: cluster.name: required",
    ]


def test_enum_value(controlplane: Doc) -> None:
    controlplane["machine"]["type"] = "master"
    assert problems(controlplane) == [
        f"{MC}: machine.type: expected 'controlplane' or 'worker', got 'master'"
    ]


def test_bounds(controlplane: Doc) -> None:
    controlplane["machine"]["token"] = "short"
    controlplane["machine"]["network"]["interfaces"][0]["mtu"] = 9
    controlplane["cluster"]["network"] = {"podSubnets": []}
    assert problems(controlplane) == [
        f"{MC}: machine.token: must be at least 16 characters long",
        f"{MC}: machine.network.interfaces[0].mtu: must be at least 68",
        f"{MC}: cluster.network.podSubnets: must have at least 1 item(s)",
    ]


def test_mapping_keys_with_dots_are_quoted(controlplane: Doc) -> None:
    controlplane["machine"]["sysctls"] = {"net.ipv4.ip_forward": 1, "bad key": "1"}
    controlplane["machine"]["registries"] = {"mirrors": {"docker.io": {"endpoints": ["ftp://m"]}}}
    assert problems(controlplane) == [
        f'{MC}: machine.sysctls["net.ipv4.ip_forward"]: expected a string, got integer',
        f'{MC}: machine.sysctls["bad key"]: invalid key: '
        "'bad key' is not a sysctl name (e.g. net.ipv4.ip_forward)",
        f'{MC}: machine.registries.mirrors["docker.io"].endpoints[0]: '
        "'ftp://m' is not a valid URL (expected http:// or https://HOST[:PORT][/PATH])",
    ]


def test_section_rules_are_reported_at_the_section(controlplane: Doc) -> None:
    interface = controlplane["machine"]["network"]["interfaces"][0]
    controlplane["machine"]["network"]["interfaces"].append(dict(interface))
    controlplane["cluster"]["kubernetes"] = {"artifacts": {"source": "mirror"}}
    assert problems(controlplane) == [
        f"{MC}: machine.network: interface 'eth0' is listed twice",
        f"{MC}: cluster.kubernetes.artifacts: source 'mirror' needs 'url'",
    ]


def test_an_artifact_location_must_fit_its_source(controlplane: Doc) -> None:
    artifacts = {"source": "local", "path": "/srv/k8s", "url": "https://mirror.example.org/k8s"}
    controlplane["cluster"]["kubernetes"] = {"artifacts": artifacts}
    assert problems(controlplane) == [
        f"{MC}: cluster.kubernetes.artifacts: 'url' is for source 'mirror', not 'local'",
    ]


def test_worker_with_ca_key_is_refused(worker: Doc, pki: dict[str, Doc]) -> None:
    worker["machine"]["ca"]["key"] = pki["machine"]["key"]
    worker["cluster"]["serviceAccount"] = pki["service_account"]
    assert problems(worker) == [
        f"{MC}: a worker config must not carry CA or signing keys: "
        "machine.ca.key, cluster.serviceAccount"
    ]


def test_controlplane_missing_keys_is_refused(controlplane: Doc) -> None:
    del controlplane["cluster"]["ca"]["key"]
    del controlplane["cluster"]["etcd"]["ca"]["key"]
    del controlplane["cluster"]["secretboxEncryptionSecret"]
    assert problems(controlplane) == [
        f"{MC}: a controlplane config needs cluster.ca.key, "
        "cluster.secretboxEncryptionSecret, cluster.etcd.ca.key"
    ]


def test_key_that_is_not_a_key(controlplane: Doc) -> None:
    controlplane["cluster"]["ca"]["key"] = controlplane["cluster"]["ca"]["crt"]
    [problem] = problems(controlplane)
    assert problem.startswith(f"{MC}: cluster.ca.key: not a valid unencrypted PEM private key")


def test_errors_of_all_documents_are_reported_together(controlplane: Doc, hub_join: Doc) -> None:
    controlplane["machine"]["network"]["interfaces"][0]["addresses"][1] = "fd00::zz/64"
    controlplane["cluster"]["extra"] = True
    hub_join["url"] = "hub.example.com"
    del hub_join["joinToken"]
    with pytest.raises(ConfigError) as caught:
        load_config(dump(controlplane, hub_join), source="c.yaml")
    hub = "document 2 (HubJoinConfig)"
    assert caught.value.lines() == [
        f"c.yaml: {MC}: machine.network.interfaces[0].addresses[1]: "
        "'fd00::zz/64' is not an address in CIDR form (e.g. 192.168.1.10/24)",
        f"c.yaml: {MC}: cluster.extra: unknown key",
        f"c.yaml: {hub}: url: 'hub.example.com' is not a valid URL "
        "(expected https://HOST[:PORT][/PATH])",
        f"c.yaml: {hub}: joinToken: required",
    ]
    assert str(caught.value) == (
        f"c.yaml: {MC}: machine.network.interfaces[0].addresses[1]: "
        "'fd00::zz/64' is not an address in CIDR form (e.g. 192.168.1.10/24) (and 3 more)"
    )


def test_document_headers(controlplane: Doc, hub_join: Doc) -> None:
    hub_join["apiVersion"] = "kiln.dev/v2"
    assert problems(controlplane, hub_join, {"kind": "Cluster"}, ["a list"]) == [
        "document 2 (HubJoinConfig): apiVersion: unknown apiVersion 'kiln.dev/v2' "
        "(expected kiln.dev/v1alpha1)",
        "document 3 (Cluster): apiVersion: required",
        "document 3 (Cluster): kind: unknown kind 'Cluster' "
        "(expected HubJoinConfig, MachineConfig)",
        "document 4: a document must be a mapping with apiVersion and kind, got list",
    ]


def test_exactly_one_machine_config(controlplane: Doc, hub_join: Doc) -> None:
    assert problems(hub_join) == ["documents: no MachineConfig document (exactly one is required)"]
    assert problems(controlplane, hub_join, controlplane, hub_join) == [
        "document 3 (MachineConfig): only one MachineConfig document is allowed "
        "(the first is document 1 (MachineConfig))",
        "document 4 (HubJoinConfig): only one HubJoinConfig document is allowed "
        "(the first is document 2 (HubJoinConfig))",
    ]


@pytest.mark.parametrize("text", ["", "---\n", "--- \n...\n---\n", "# only a comment\n"])
def test_empty_input_has_no_machine_config(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(text)
    assert caught.value.problems == [
        ConfigProblem("documents", "", "no MachineConfig document (exactly one is required)")
    ]


def test_empty_documents_are_skipped(controlplane: Doc) -> None:
    text = "---\n---\n" + dump(controlplane) + "---\n"
    assert load_config(text).machine_config.machine.network.hostname == "cp-1"
