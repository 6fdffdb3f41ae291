"""A member config becomes etcd's command line: TLS on both ports, managed flags kept out of
users' hands."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.machined.etcd import (
    ClusterState,
    EtcdCertPaths,
    EtcdConfigError,
    EtcdMemberConfig,
    validate_extra_args,
)
from kiln.machined.etcd.config import FORBIDDEN_FLAGS, MANAGED_FLAGS, format_initial_cluster

CERTS = EtcdCertPaths(Path("/system/secrets/etcd"))


def member(**changes: object) -> EtcdMemberConfig:
    values: dict[str, object] = {
        "name": "cp-1",
        "data_dir": Path("/var/lib/etcd"),
        "address": "10.5.0.2",
        "certs": CERTS,
    }
    values.update(changes)
    return EtcdMemberConfig(**values)  # type: ignore[arg-type]


def flags(argv: list[str]) -> dict[str, str]:
    pairs = (arg.removeprefix("--").split("=", 1) for arg in argv[1:])
    return dict(pair for pair in pairs if len(pair) == 2)


def test_a_new_member_alone_with_tls_everywhere() -> None:
    argv = member().argv("/usr/bin/etcd")
    assert argv[0] == "/usr/bin/etcd"
    assert flags(argv) == {
        "name": "cp-1",
        "data-dir": "/var/lib/etcd",
        "listen-client-urls": "https://10.5.0.2:2379",
        "advertise-client-urls": "https://10.5.0.2:2379",
        "listen-peer-urls": "https://10.5.0.2:2380",
        "initial-advertise-peer-urls": "https://10.5.0.2:2380",
        "initial-cluster": "cp-1=https://10.5.0.2:2380",
        "initial-cluster-state": "new",
        "initial-cluster-token": "kiln",
        "cert-file": "/system/secrets/etcd/server.crt",
        "key-file": "/system/secrets/etcd/server.key",
        "trusted-ca-file": "/system/secrets/etcd/ca.crt",
        "client-cert-auth": "true",
        "peer-cert-file": "/system/secrets/etcd/peer.crt",
        "peer-key-file": "/system/secrets/etcd/peer.key",
        "peer-trusted-ca-file": "/system/secrets/etcd/ca.crt",
        "peer-client-cert-auth": "true",
    }
    assert set(flags(argv)) == MANAGED_FLAGS - {"auto-tls", "peer-auto-tls"}


def test_joining_an_existing_cluster_with_extra_args_after_the_managed_flags() -> None:
    cluster = [("cp-1", "https://10.5.0.2:2380"), ("cp-2", "https://10.5.0.3:2380")]
    config = member(
        name="cp-2", address="10.5.0.3", extra_args={"quota-backend-bytes": "8589934592"}
    ).joining(cluster, ClusterState.EXISTING)
    argv = config.argv("etcd")
    assert flags(argv)["initial-cluster"] == format_initial_cluster(cluster)
    assert flags(argv)["initial-cluster-state"] == "existing"
    assert argv[-1] == "--quota-backend-bytes=8589934592"


def test_urls_for_ipv6_and_for_listening_everywhere() -> None:
    v6 = member(address="fd00::2", client_port=12379, peer_port=12380)
    assert v6.peer_url == "https://[fd00::2]:12380"
    assert v6.local_client_url == "https://[fd00::2]:12379"
    everywhere = member(listen_address="0.0.0.0")
    assert flags(everywhere.argv("etcd"))["listen-peer-urls"] == "https://0.0.0.0:2380"
    assert everywhere.client_url == "https://10.5.0.2:2379"
    assert everywhere.local_client_url == "https://127.0.0.1:2379"
    assert member(address="fd00::2", listen_address="::").local_client_url == "https://[::1]:2379"


@pytest.mark.parametrize("flag", sorted(MANAGED_FLAGS | FORBIDDEN_FLAGS))
def test_extra_args_cannot_set_managed_or_forbidden_flags(flag: str) -> None:
    with pytest.raises(EtcdConfigError, match=flag):
        member(extra_args={flag: "x"})


def test_every_problem_is_reported_at_once() -> None:
    problems = validate_extra_args(
        {"--name": "x", "data-dir": "/tmp", "unsafe-no-fsync": "true", "log-level": "a\nb"}
    )
    assert problems == [
        "extraArgs: '--name' is not an etcd flag name (e.g. 'quota-backend-bytes')",
        "extraArgs: 'data-dir' is managed by Kiln and cannot be overridden",
        "extraArgs: 'unsafe-no-fsync' is not allowed",
        "extraArgs: the value of 'log-level' holds a line break or NUL",
    ]
    assert validate_extra_args({"heartbeat-interval": "50", "election-timeout": "500"}) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "cp 1"}, "member name"),
        ({"name": "a=b"}, "member name"),
        ({"address": "node-1.example"}, "not an IP address"),
        ({"listen_address": "all"}, "not an IP address"),
        ({"client_port": 2380}, "two different ports"),
        ({"peer_port": 70000}, "two different ports"),
        ({"cluster_token": "a,b"}, "cluster token"),
    ],
)
def test_invalid_members_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(EtcdConfigError, match=message):
        member(**changes)


def test_a_config_is_frozen() -> None:
    config = member(extra_args={"snapshot-count": "10000"})
    with pytest.raises(TypeError):
        config.extra_args["snapshot-count"] = "1"  # type: ignore[index]
