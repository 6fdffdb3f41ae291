"""kube-proxy of every node, in iptables mode, as a service of the node daemon.

It authenticates as the node, with the kubelet's current client certificate (rotated by the
kubelet; a control-plane node binds ``system:node-proxier`` to ``system:nodes``), so it waits
until the kubelet has bootstrapped. Its health and metrics ports are bound to the node's address::

    <state>/kube-proxy/config.yaml     KubeProxyConfiguration
    <state>/kube-proxy/kubeconfig      the API server, the cluster CA, the kubelet's certificate
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kiln.machined.address import bind_address
from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.kubernetes.kubelet import KubeletPaths, node_service_spec
from kiln.machined.services import ServiceSpec, files_exist
from kiln.machined.services.spec import Prepare
from kiln.machinery.config.model import MachineConfigDocument
from kiln.machinery.kubernetes import services as names
from kiln.machinery.privatefile import write_private_files

HEALTHZ_PORT = 10256
METRICS_PORT = 10249
MODE = "iptables"


@dataclass(frozen=True)
class KubeProxyInputs:
    document: MachineConfigDocument
    hostname: str
    address: str
    server: str
    binary: Path
    kubelet: KubeletPaths

    @property
    def directory(self) -> Path:
        return self.kubelet.state_dir / "kube-proxy"


def kube_proxy_configuration(inputs: KubeProxyInputs) -> dict[str, Any]:
    """The KubeProxyConfiguration (``kubeproxy.config.k8s.io/v1alpha1``) of this node."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": MODE,
        "bindAddress": inputs.address,
        "healthzBindAddress": bind_address(inputs.address, HEALTHZ_PORT),
        "metricsBindAddress": bind_address(inputs.address, METRICS_PORT),
        "hostnameOverride": inputs.hostname,
        "clusterCIDR": ",".join(inputs.document.cluster.network.pod_subnets),
        "clientConnection": {"kubeconfig": str(inputs.directory / "kubeconfig")},
        "conntrack": {"maxPerCore": 0},  # leave the host's conntrack table size alone
    }


def kube_proxy_kubeconfig(inputs: KubeProxyInputs) -> dict[str, Any]:
    """A kubeconfig naming the kubelet's rotating certificate file (key in the same file)."""
    current = str(inputs.kubelet.client_certificate)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {
                    "server": inputs.server,
                    "certificate-authority": str(inputs.kubelet.ca),
                },
            }
        ],
        "users": [{"name": "node", "user": {"client-certificate": current, "client-key": current}}],
        "contexts": [{"name": "node", "context": {"cluster": "cluster", "user": "node"}}],
        "current-context": "node",
    }


def write_kube_proxy_files(inputs: KubeProxyInputs) -> None:
    """kube-proxy's config and kubeconfig; blocking."""
    try:
        inputs.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_files(
            {
                inputs.directory / "config.yaml": yaml.safe_dump(kube_proxy_configuration(inputs)),
                inputs.directory / "kubeconfig": yaml.safe_dump(kube_proxy_kubeconfig(inputs)),
            }
        )
    except OSError as exc:
        raise KubernetesError(f"cannot write kube-proxy's files: {exc}") from exc


def kube_proxy_spec(inputs: KubeProxyInputs, verify: Prepare) -> ServiceSpec:
    return node_service_spec(
        names.KUBE_PROXY,
        [str(inputs.binary), f"--config={inputs.directory / 'config.yaml'}"],
        bind_address(inputs.address, HEALTHZ_PORT),
        verify,
        conditions=[files_exist(str(inputs.kubelet.client_certificate))],
    )
