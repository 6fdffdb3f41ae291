"""What a control-plane node's etcd member is made of, read from its machine config and how the
daemon was started: name, address, certificates, data directory, and where to find a cluster.

::

    <state>/etcd             the member's data directory (survives reboots and kill -9;
                             wiped by a reset)
    <state>/secrets/etcd     its certificates from the cluster's etcd CA (cluster.etcd.ca)
    <state>/etcd-work        snapshots and uploaded snapshots in transit

The node's address is the host of ``--api-addr`` when it is a specific one, else the host's
first address. A node on a loopback address (tests, a laptop) also names 127.0.0.1 in its
certificates: connections between loopback addresses leave from 127.0.0.1, and etcd checks a
connecting peer's address against the peer's certificate.

Other control-plane nodes are found through the host of ``cluster.controlPlane.endpoint``:
in a local cluster it is the first control-plane node, whose etcd client port answers the
member list once the cluster is bootstrapped.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kiln.machined.etcd import (
    CLIENT_PORT,
    SERVICE_NAME,
    EtcdBinaries,
    EtcdCertificateError,
    EtcdMemberConfig,
    ensure_etcd_certificates,
)
from kiln.machined.etcd.config import url
from kiln.machined.node.options import NodeOptions
from kiln.machined.services import ServiceSpec
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.model import MachineType
from kiln.machinery.errors import SecretsError
from kiln.machinery.secrets import CertificateAuthority

DATA_DIR = "etcd"
SECRETS_DIR = Path("secrets") / "etcd"
WORK_DIR = "etcd-work"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class EtcdSetup:
    """Everything a node needs to run its member: the config (certificates issued), the
    programs, the URL of a cluster to join (None: this node is the discovery point itself)
    and a directory for snapshots in transit."""

    member: EtcdMemberConfig
    binaries: EtcdBinaries
    discovery_url: str | None
    work_dir: Path


def runs_etcd(config: MachineConfig | None) -> bool:
    """Whether a node with ``config`` runs an etcd member: control-plane nodes do."""
    if config is None:
        return False
    document = config.machine_config
    return document.machine.type is MachineType.CONTROLPLANE and document.cluster.etcd is not None


def node_address(options: NodeOptions, host_addresses: Sequence[str]) -> str:
    """The address other members reach this node at."""
    if options.api_host_is_specific:
        return options.api_host
    if host_addresses:
        return host_addresses[0]
    raise EtcdCertificateError(
        "the node has no address for its etcd member: start it with a specific --api-addr"
    )


def certificate_addresses(address: str) -> list[str]:
    """The node's address, and 127.0.0.1 besides a loopback one (see the module docstring)."""
    if ipaddress.ip_address(address).is_loopback and address != LOOPBACK:
        return [address, LOOPBACK]
    return [address]


def discovery_url(config: MachineConfig, address: str) -> str | None:
    """The etcd client URL on the host of the control-plane endpoint, unless that is this
    node."""
    host = urlsplit(str(config.machine_config.cluster.control_plane.endpoint)).hostname
    if not host or host == address:
        return None
    return url(host, CLIENT_PORT)


def prepare(
    config: MachineConfig,
    options: NodeOptions,
    name: str,
    host_addresses: Sequence[str],
) -> EtcdSetup:
    """Find the etcd programs and issue (or keep) the member's certificates; blocking.

    :class:`~kiln.machined.etcd.EtcdError` when the programs are missing or the certificates
    cannot be made.
    """
    binaries = EtcdBinaries.find()
    etcd = config.machine_config.cluster.etcd
    if etcd is None or etcd.ca.key is None:
        raise EtcdCertificateError("the config holds no etcd CA key (cluster.etcd.ca.key)")
    try:
        authority = CertificateAuthority.from_b64(etcd.ca.crt, etcd.ca.key, "cluster.etcd.ca")
    except SecretsError as exc:
        raise EtcdCertificateError(str(exc)) from exc
    address = node_address(options, host_addresses)
    state = options.state_dir
    certs = ensure_etcd_certificates(
        authority, name, certificate_addresses(address), state / SECRETS_DIR
    )
    member = EtcdMemberConfig(
        name, state / DATA_DIR, address, certs, extra_args=dict(etcd.extra_args)
    )
    return EtcdSetup(member, binaries, discovery_url(config, address), state / WORK_DIR)


def remove_leftovers(setup: EtcdSetup) -> None:
    """Remove what a boot killed during a snapshot or a recovery left: the work directory and
    a restore's staging directories beside the data directory; blocking."""
    data_dir = setup.member.data_dir
    for path in [setup.work_dir, *data_dir.parent.glob(f".{data_dir.name}.*.restore")]:
        shutil.rmtree(path, ignore_errors=True)


def waiting_spec(what: str) -> ServiceSpec:
    """The etcd service while the member cannot start yet: waiting for ``what``."""
    return ServiceSpec.waiting(SERVICE_NAME, what)
