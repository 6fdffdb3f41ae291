"""Generate the machine configs of a new cluster from its secrets bundle.

A controlplane config carries every CA with its key, the service-account key, the secretbox key
and the etcd CA; a worker config carries only the certificates of the OS and Kubernetes CAs it
must trust, and no private key at all. The documents are validated by the config schema like
any loaded file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kiln.machinery.config.container import MachineConfig
from kiln.machinery.config.model import API_VERSION, DEFAULT_KUBERNETES_VERSION, MachineType
from kiln.machinery.config.patches import StrategicPatch
from kiln.machinery.secrets.bundle import CertAndKeyPEM, SecretsBundle

DEFAULT_INSTALL_DISK = "/dev/sda"
KUBERNETES_API_PORT = 6443


@dataclass(frozen=True)
class GeneratedConfigs:
    controlplane: MachineConfig
    worker: MachineConfig


def check_endpoint(endpoint: str) -> str:
    """The host of ``endpoint`` if it is an https URL; ValueError with a hint otherwise."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        raise ValueError(f"{endpoint!r} is not a valid URL") from None
    if parts.scheme == "https" and host:
        return host
    if "://" in endpoint:
        raise ValueError(f"{endpoint!r} is not an https:// URL")
    bare = endpoint if _is_ipv6(endpoint) else endpoint.rsplit(":", 1)[0]
    suggestion = f"[{bare}]" if _is_ipv6(bare) else bare
    raise ValueError(
        f"{endpoint!r} is not a URL (did you mean https://{suggestion}:{KUBERNETES_API_PORT}?)"
    )


def generate_configs(
    name: str,
    endpoint: str,
    secrets: SecretsBundle,
    *,
    kubernetes_version: str | None = None,
    install_disk: str = DEFAULT_INSTALL_DISK,
    install_image: str | None = None,
) -> GeneratedConfigs:
    """The controlplane and worker configs of cluster ``name`` behind ``endpoint``.

    ``endpoint`` is the Kubernetes API URL (``https://10.5.0.2:6443``); its host is added to the
    controlplane's ``certSANs``. Raises ConfigError if an argument makes an invalid config (a
    bad name, endpoint, version or disk).
    """
    configs = {}
    for machine_type in MachineType:
        document = _document(
            machine_type,
            name,
            endpoint,
            secrets,
            kubernetes_version or DEFAULT_KUBERNETES_VERSION,
            install_disk,
            install_image,
        )
        source = f"generated {machine_type.value} config"
        configs[machine_type] = MachineConfig.from_documents([document], source)
    return GeneratedConfigs(configs[MachineType.CONTROLPLANE], configs[MachineType.WORKER])


def node_patch(
    source: str, address: str, hostname: str | None = None, *, also: Sequence[str] = ()
) -> StrategicPatch:
    """What makes a generated config one node's own: the address its API certificate names
    (``certSANs``, with ``also`` its other addresses) and, if given, its hostname."""
    machine: dict[str, Any] = {"certSANs": [address, *also]}
    if hostname:
        machine["network"] = {"hostname": hostname}
    return StrategicPatch(source, ({"machine": machine},))


def _document(
    machine_type: MachineType,
    name: str,
    endpoint: str,
    secrets: SecretsBundle,
    kubernetes_version: str,
    install_disk: str,
    install_image: str | None,
) -> dict[str, Any]:
    controlplane = machine_type is MachineType.CONTROLPLANE
    certs = secrets.certs

    def ca(pair: CertAndKeyPEM) -> dict[str, str]:
        return {"crt": pair.crt, "key": pair.key} if controlplane else {"crt": pair.crt}

    install: dict[str, str] = {"disk": install_disk}
    if install_image is not None:
        install["image"] = install_image
    machine: dict[str, Any] = {
        "type": machine_type.value,
        "token": secrets.machine_token,
        "ca": ca(certs.os),
        "install": install,
    }
    cluster: dict[str, Any] = {
        "id": secrets.cluster.id,
        "secret": secrets.cluster.secret,
        "name": name,
        "controlPlane": {"endpoint": endpoint},
        "kubernetes": {"version": kubernetes_version},
        "ca": ca(certs.k8s),
        "token": secrets.secrets.bootstrap_token,
    }
    if controlplane:
        host = _host(endpoint)
        if host:
            machine["certSANs"] = [host]
        cluster["aggregatorCA"] = ca(certs.k8s_aggregator)
        cluster["serviceAccount"] = {"key": certs.k8s_service_account.key}
        cluster["secretboxEncryptionSecret"] = secrets.secrets.secretbox_encryption_secret
        cluster["etcd"] = {"ca": ca(certs.etcd)}
    return {
        "apiVersion": API_VERSION,
        "kind": "MachineConfig",
        "machine": machine,
        "cluster": cluster,
    }


def _host(endpoint: str) -> str | None:
    try:
        return check_endpoint(endpoint)
    except ValueError:
        return None  # the schema reports the endpoint


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False
