"""The API server's certificates: a self-signed one for maintenance mode, one from the OS CA
once the node is configured.

The maintenance identity (``<state>/maintenance/tls.{crt,key}``,
:func:`~kiln.machined.api.identity.maintenance_identity`) is made once and survives resets, so
a client that pinned it sees the same certificate after a reset. The configured
identity is issued at every boot from the config's OS CA (``machine.ca``) and kept only in
memory; its names are the node's addresses, hostname and ``machine.certSANs``. A node without
the OS CA key (a worker) gets its configured identity from a control-plane node instead
(:mod:`kiln.machined.node.certify`).

A control-plane node also issues itself, at every boot, the client certificate it forwards
calls to other nodes with (:func:`impersonator_identity`, Organization ``os:impersonator``).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from kiln.machined.api.identity import (
    MAINTENANCE_NAME,
    ClientIdentity,
    IdentityInputs,
    KeptIdentity,
    ServerIdentity,
    keep,
    load_kept,
)
from kiln.machinery.config import MachineConfig
from kiln.machinery.errors import SecretsError
from kiln.machinery.roles import IMPERSONATOR
from kiln.machinery.secrets import CertificateAuthority, Usage

SERVER_VALIDITY = timedelta(days=365)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def configured_identity(
    config: MachineConfig, names: Iterable[str], state_dir: Path, node_name: str
) -> ServerIdentity:
    """A server certificate from the config's OS CA for ``names`` (addresses or DNS names):
    the one kept in ``state_dir`` while it fits (:mod:`~kiln.machined.api.identity`), else a
    new one, kept for the next boot.

    SecretsError if the config holds no OS CA key (a worker's comes from
    :mod:`~kiln.machined.node.certify`).
    """
    machine = config.machine_config.machine
    authority = os_authority(config)
    dns, ips = split_names([*LOOPBACK_NAMES, *names, *machine.cert_sans])
    wanted = (*dns, *ips)
    ca = authority.certificate.pem
    kept = load_kept(state_dir)
    if kept is not None and kept.inputs.serves(wanted, ca):
        if kept.inputs.node_name != node_name:
            keep(state_dir, KeptIdentity(kept.identity, replace(kept.inputs, node_name=node_name)))
        return kept.identity
    issued = authority.issue(
        dns[0] if dns else MAINTENANCE_NAME,
        Usage.SERVER,
        SERVER_VALIDITY,
        dns_names=dns,
        ip_addresses=ips,
    )
    identity = ServerIdentity(issued.key.pem, issued.certificate.pem, client_ca=ca)
    not_after = issued.certificate.x509().not_valid_after_utc.timestamp()
    inputs = IdentityInputs(wanted, hashlib.sha256(ca).hexdigest(), not_after, node_name)
    keep(state_dir, KeptIdentity(identity, inputs))
    return identity


def impersonator_identity(config: MachineConfig, name: str) -> ClientIdentity:
    """The client certificate a control-plane node forwards calls with (CN ``name``).

    SecretsError if the config holds no OS CA key.
    """
    authority = os_authority(config)
    issued = authority.issue(
        name[:64] or MAINTENANCE_NAME, Usage.CLIENT, SERVER_VALIDITY, organizations=[IMPERSONATOR]
    )
    return ClientIdentity(issued.key.pem, issued.certificate.pem, authority.certificate.pem)


def os_authority(config: MachineConfig) -> CertificateAuthority:
    """The OS CA of a control-plane config; SecretsError if it holds no key."""
    machine = config.machine_config.machine
    if machine.ca.key is None:
        raise SecretsError("machine.ca.key is missing: cannot issue the API certificate")
    return CertificateAuthority.from_b64(machine.ca.crt, machine.ca.key, "machine.ca")


def split_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses among ``names``, each once, in order; wildcards dropped."""
    dns: dict[str, None] = {}
    ips: dict[str, None] = {}
    for name in names:
        if not name:
            continue
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            dns[name.lower()] = None
            continue
        if not address.is_unspecified:
            ips[str(address)] = None
    return list(dns), list(ips)
