"""How one etcd member runs: its name, data directory, URLs, cluster bootstrap settings and the
flags a user may add, turned into the etcd command line.

TLS is always on, on both ports, with client certificates required::

    clients  ──https──▶ :2379  (server cert; client cert checked against the etcd CA)
    peers    ──https──▶ :2380  (peer cert both ways; peer's address checked against its SANs)

Flags Kiln manages (:data:`MANAGED_FLAGS`) and flags that would break its guarantees
(:data:`FORBIDDEN_FLAGS`, e.g. ``unsafe-no-fsync``: a killed node must not lose data) cannot be
set through ``extraArgs``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from kiln.machined.etcd.certs import EtcdCertPaths
from kiln.machined.etcd.errors import EtcdConfigError
from kiln.machinery.endpoints import is_ip

CLIENT_PORT = 2379
PEER_PORT = 2380
DEFAULT_CLUSTER_TOKEN = "kiln"

MANAGED_FLAGS = frozenset(
    {
        "name",
        "data-dir",
        "listen-client-urls",
        "advertise-client-urls",
        "listen-peer-urls",
        "initial-advertise-peer-urls",
        "initial-cluster",
        "initial-cluster-state",
        "initial-cluster-token",
        "cert-file",
        "key-file",
        "trusted-ca-file",
        "client-cert-auth",
        "auto-tls",
        "peer-cert-file",
        "peer-key-file",
        "peer-trusted-ca-file",
        "peer-client-cert-auth",
        "peer-auto-tls",
    }
)
"""Set by Kiln from the member config and its certificates."""

FORBIDDEN_FLAGS = frozenset(
    {
        "config-file",  # would replace every flag above
        "wal-dir",  # the WAL must live in the data directory that Kiln wipes and restores
        "unsafe-no-fsync",  # loses acknowledged writes when the node dies
        "force-new-cluster",  # rewrites membership; recovery goes through a snapshot
        "discovery",
        "discovery-srv",
        "discovery-srv-name",
        "discovery-fallback",
        "discovery-proxy",
    }
)
"""Flags that would undo what Kiln promises about membership, TLS or durability."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
FLAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ClusterState(StrEnum):
    """``--initial-cluster-state``: make a new cluster, or join one that exists."""

    NEW = "new"
    EXISTING = "existing"


def url(address: str, port: int) -> str:
    """``https://address:port``; IPv6 addresses in brackets."""
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"


def format_initial_cluster(members: Sequence[tuple[str, str]]) -> str:
    """``name=peer-url,...`` as ``--initial-cluster`` takes it."""
    return ",".join(f"{name}={peer_url}" for name, peer_url in members)


def validate_extra_args(extra_args: Mapping[str, str]) -> list[str]:
    """Every problem with user-supplied etcd flags (names without the leading ``--``)."""
    problems = []
    for flag, value in extra_args.items():
        if not FLAG_PATTERN.fullmatch(flag):
            problems.append(
                f"extraArgs: {flag!r} is not an etcd flag name (e.g. 'quota-backend-bytes')"
            )
        elif flag in MANAGED_FLAGS:
            problems.append(f"extraArgs: {flag!r} is managed by Kiln and cannot be overridden")
        elif flag in FORBIDDEN_FLAGS:
            problems.append(f"extraArgs: {flag!r} is not allowed")
        if any(char in value for char in "\n\r\0"):
            problems.append(f"extraArgs: the value of {flag!r} holds a line break or NUL")
    return problems


@dataclass(frozen=True)
class EtcdMemberConfig:
    """One member of an etcd cluster, as this node runs it.

    ``address`` is the IP other members and clients reach this node at; the advertised URLs are
    made from it and the two ports. etcd listens on ``listen_address`` (default: ``address``;
    ``0.0.0.0`` or ``::`` for every interface). ``initial_cluster`` lists ``(name, peer URL)``
    of the members at bootstrap or join (empty: this member alone); it and
    ``initial_cluster_state`` matter only while the data directory is empty.
    """

    name: str
    data_dir: Path
    address: str
    certs: EtcdCertPaths
    client_port: int = CLIENT_PORT
    peer_port: int = PEER_PORT
    listen_address: str | None = None
    initial_cluster: tuple[tuple[str, str], ...] = ()
    initial_cluster_state: ClusterState = ClusterState.NEW
    cluster_token: str = DEFAULT_CLUSTER_TOKEN
    extra_args: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not NAME_PATTERN.fullmatch(self.name):
            problems.append(f"member name {self.name!r}: use 1-64 of A-Z, a-z, 0-9, '.', '_', '-'")
        for what, value in (("address", self.address), ("listen address", self.listen_address)):
            if value is not None and not is_ip(value):
                problems.append(f"{what} {value!r} is not an IP address")
        ports = (self.client_port, self.peer_port)
        if not all(0 < port < 65536 for port in ports) or len(set(ports)) != 2:
            problems.append(f"ports {ports}: need two different ports in 1-65535")
        if not NAME_PATTERN.fullmatch(self.cluster_token):
            problems.append(f"cluster token {self.cluster_token!r}: letters, digits, '.', '_', '-'")
        problems += validate_extra_args(self.extra_args)
        if problems:
            raise EtcdConfigError(f"etcd member {self.name}: {'; '.join(problems)}")
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "initial_cluster", tuple(tuple(m) for m in self.initial_cluster))
        object.__setattr__(self, "initial_cluster_state", ClusterState(self.initial_cluster_state))
        object.__setattr__(self, "extra_args", MappingProxyType(dict(self.extra_args)))

    @property
    def peer_url(self) -> str:
        return url(self.address, self.peer_port)

    @property
    def client_url(self) -> str:
        """The URL clients elsewhere use for this member."""
        return url(self.address, self.client_port)

    @property
    def local_client_url(self) -> str:
        """The URL this node's own clients use: loopback when etcd listens everywhere."""
        listen = self.listen_address or self.address
        if listen == "0.0.0.0":
            return url("127.0.0.1", self.client_port)
        if listen == "::":
            return url("::1", self.client_port)
        return url(listen, self.client_port)

    def joining(
        self, initial_cluster: Sequence[tuple[str, str]], state: ClusterState
    ) -> EtcdMemberConfig:
        """This member with another initial cluster and state."""
        return replace(self, initial_cluster=tuple(initial_cluster), initial_cluster_state=state)

    def argv(self, etcd: str | os.PathLike[str]) -> list[str]:
        """The command line of the ``etcd`` program at ``etcd``."""
        listen = self.listen_address or self.address
        cluster = self.initial_cluster or ((self.name, self.peer_url),)
        certs = self.certs
        managed = [
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={url(listen, self.client_port)}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={url(listen, self.peer_port)}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={format_initial_cluster(cluster)}",
            f"--initial-cluster-state={self.initial_cluster_state}",
            f"--initial-cluster-token={self.cluster_token}",
            f"--cert-file={certs.server_cert}",
            f"--key-file={certs.server_key}",
            f"--trusted-ca-file={certs.ca}",
            "--client-cert-auth=true",
            f"--peer-cert-file={certs.peer_cert}",
            f"--peer-key-file={certs.peer_key}",
            f"--peer-trusted-ca-file={certs.ca}",
            "--peer-client-cert-auth=true",
        ]
        extra = [f"--{flag}={value}" for flag, value in sorted(self.extra_args.items())]
        return [os.fspath(etcd), *managed, *extra]
