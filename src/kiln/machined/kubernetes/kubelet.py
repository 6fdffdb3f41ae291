"""The kubelet of every node: its KubeletConfiguration, TLS bootstrap and service.

The kubelet joins with the cluster's bootstrap token (``cluster.token``): it asks for a client
certificate with a CertificateSigningRequest, which kube-controller-manager approves and signs
(the bindings that allow it are applied by a control-plane node, :mod:`.manifests`), then
rotates it before it expires. Its files are under the node's state directory::

    <state>/kubelet                      root directory (pods, volumes, plugins)
    <state>/kubelet/pki                  its client and serving certificates
    <state>/kubelet/kubeconfig           written by the kubelet once it has a certificate
    <state>/kubelet/config.yaml          the KubeletConfiguration below
    <state>/kubelet/pod-logs             the pods' logs in container mode, from v1.29
    <state>/secrets/kubelet/ca.crt, bootstrap.kubeconfig

Every port is bound to the node's own address (the healthz port too), so kubelets of nodes on
different addresses of one host do not collide on ports. In container mode each kubelet also
keeps its pods under a cgroup root of its own (:mod:`.cgroups`): a kubelet kills the pods it
finds under its root that are not its own. A v1.20 kubelet's pod logs stay in ``/var/log/pods``,
where each kubelet of the host removes those of pods it does not run (about every minute).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kiln.machined.address import bind_address
from kiln.machined.kubernetes.cgroups import node_cgroup_root
from kiln.machined.kubernetes.containerd import CGROUP_DRIVER, SEARCH_PATH, ContainerdPaths
from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.kubernetes.versions import Compatibility
from kiln.machined.services import Backoff, Condition, RestartPolicy, ServiceSpec, http_get_ok
from kiln.machined.services.spec import Prepare
from kiln.machinery.config.model import MachineConfigDocument, MachineType, Taint, TaintEffect
from kiln.machinery.kubernetes import services as names
from kiln.machinery.privatefile import ensure_private_dir, write_private_files

KUBELET_PORT = 10250
HEALTHZ_PORT = 10248
CONTROL_PLANE_TAINT = Taint(
    key="node-role.kubernetes.io/control-plane", effect=TaintEffect.NO_SCHEDULE
)


@dataclass(frozen=True)
class KubeletPaths:
    """Where the kubelet's files are (see the module docstring)."""

    state_dir: Path

    @property
    def root(self) -> Path:
        return self.state_dir / "kubelet"

    @property
    def cert_dir(self) -> Path:
        return self.root / "pki"

    @property
    def client_certificate(self) -> Path:
        """The current client certificate and key (one PEM file), once bootstrapped."""
        return self.cert_dir / "kubelet-client-current.pem"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pod_logs(self) -> Path:
        """The pods' logs where other nodes share the host (else ``/var/log/pods``)."""
        return self.root / "pod-logs"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets" / "kubelet"

    @property
    def ca(self) -> Path:
        return self.secrets / "ca.crt"

    @property
    def bootstrap_kubeconfig(self) -> Path:
        return self.secrets / "bootstrap.kubeconfig"


@dataclass(frozen=True)
class KubeletInputs:
    """What the kubelet is made from."""

    document: MachineConfigDocument
    hostname: str
    address: str
    server: str
    compat: Compatibility
    binary: Path
    paths: KubeletPaths
    containerd: ContainerdPaths
    shares_host: bool = False
    """Other nodes' kubelets run on this host (container mode): this one keeps its pods under
    a cgroup root of its own (:mod:`.cgroups`) and, where its version can, their logs under
    its root directory."""

    @property
    def cgroup_root(self) -> str | None:
        if not self.shares_host:
            return None
        return node_cgroup_root(self.hostname, self.paths.state_dir)


def taints(document: MachineConfigDocument) -> list[Taint]:
    """The taints a node registers with: the configured ones, and the control-plane taint on
    control-plane nodes unless ``cluster.allowSchedulingOnControlPlanes``."""
    found = list(document.machine.kubelet.node_taints)
    tainted = (
        document.machine.type is MachineType.CONTROLPLANE
        and not document.cluster.allow_scheduling_on_control_planes
        and all(taint.key != CONTROL_PLANE_TAINT.key for taint in found)
    )
    if tainted:
        found.append(CONTROL_PLANE_TAINT)
    return found


def cluster_dns(document: MachineConfigDocument) -> str:
    """The ClusterIP of the DNS service: the tenth address of the service subnet."""
    network = ipaddress.ip_network(document.cluster.network.service_subnets[0], strict=False)
    return str(network.network_address + 10)


def kubelet_configuration(inputs: KubeletInputs) -> dict[str, Any]:
    """The KubeletConfiguration (``kubelet.config.k8s.io/v1beta1``) of this node."""
    document = inputs.document
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": inputs.address,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": inputs.address,
        "healthzPort": HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(inputs.paths.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": CGROUP_DRIVER,
        "clusterDomain": document.cluster.network.dns_domain,
        "clusterDNS": [cluster_dns(document)],
        "rotateCertificates": True,
        "serverTLSBootstrap": False,
        "failSwapOn": False,
        "imageGCHighThresholdPercent": 95,
        "imageGCLowThresholdPercent": 90,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "5%"},
    }
    if inputs.cgroup_root is not None:
        config["cgroupRoot"] = inputs.cgroup_root
    if inputs.shares_host and inputs.compat.kubelet_pod_logs_dir:
        config["podLogsDir"] = str(inputs.paths.pod_logs)
    registered = [_taint(taint) for taint in taints(document)]
    if not inputs.compat.kubelet_legacy_flags:
        config["containerRuntimeEndpoint"] = inputs.containerd.endpoint
        config["registerWithTaints"] = registered
    if inputs.compat.kubelet_fail_cgroup_v1:
        config["failCgroupV1"] = False
    return config


def _taint(taint: Taint) -> dict[str, str]:
    found = {"key": taint.key, "effect": taint.effect.value}
    if taint.value:
        found["value"] = taint.value
    return found


def _taint_flag(taint: Taint) -> str:
    return f"{taint.key}={taint.value}:{taint.effect.value}"


def kubelet_args(inputs: KubeletInputs) -> list[str]:
    paths = inputs.paths
    flags: dict[str, str] = {
        "config": str(paths.config),
        "bootstrap-kubeconfig": str(paths.bootstrap_kubeconfig),
        "kubeconfig": str(paths.kubeconfig),
        "cert-dir": str(paths.cert_dir),
        "root-dir": str(paths.root),
        "hostname-override": inputs.hostname,
        "node-ip": inputs.address,
    }
    labels = inputs.document.machine.kubelet.node_labels
    if labels:
        flags["node-labels"] = ",".join(f"{key}={value}" for key, value in labels.items())
    if inputs.compat.kubelet_legacy_flags:
        flags["container-runtime"] = "remote"
        flags["container-runtime-endpoint"] = inputs.containerd.endpoint
        registered = taints(inputs.document)
        if registered:
            flags["register-with-taints"] = ",".join(_taint_flag(t) for t in registered)
    flags.update(inputs.document.machine.kubelet.extra_args)
    return [f"--{name}={value}" for name, value in flags.items()]


def bootstrap_kubeconfig(server: str, ca_pem: bytes, token: str, cluster: str) -> dict[str, Any]:
    """A kubeconfig authenticating with the bootstrap token, for the kubelet's first CSR."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "kubelet-bootstrap", "user": {"token": token}}],
        "contexts": [
            {"name": "bootstrap", "context": {"cluster": cluster, "user": "kubelet-bootstrap"}}
        ],
        "current-context": "bootstrap",
    }


def write_kubelet_files(inputs: KubeletInputs) -> None:
    """The CA, the bootstrap kubeconfig and the KubeletConfiguration; blocking."""
    document = inputs.document
    ca_pem = base64.b64decode(document.cluster.ca.crt)
    bootstrap = bootstrap_kubeconfig(inputs.server, ca_pem, document.cluster.token, "cluster")
    files: Mapping[Path, str | bytes] = {
        inputs.paths.ca: ca_pem,
        inputs.paths.bootstrap_kubeconfig: yaml.safe_dump(bootstrap),
        inputs.paths.config: yaml.safe_dump(kubelet_configuration(inputs)),
    }
    try:
        ensure_private_dir(inputs.paths.secrets)
        inputs.paths.cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_files(files)
    except OSError as exc:
        raise KubernetesError(f"cannot write the kubelet's files: {exc}") from exc


def node_service_spec(
    name: str,
    argv: Sequence[str],
    healthz: str,
    verify: Prepare,
    *,
    depends_on: Sequence[str] = (),
    conditions: Sequence[Condition] = (),
) -> ServiceSpec:
    """A Kubernetes node service (kubelet, kube-proxy): always restarted, healthy while
    ``http://<healthz>/healthz`` answers, its binary verified before every start."""
    return ServiceSpec(
        name,
        argv,
        env={"PATH": SEARCH_PATH},
        depends_on=depends_on,
        conditions=conditions,
        restart=RestartPolicy.ALWAYS,
        backoff=Backoff(initial=2.0, cap=30.0),
        health=http_get_ok(
            f"http://{healthz}/healthz", interval=5.0, timeout=4.0, initial_delay=2.0
        ),
        prepare=verify,
        stop_grace=15.0,
    )


def kubelet_spec(inputs: KubeletInputs, verify: Prepare) -> ServiceSpec:
    return node_service_spec(
        names.KUBELET,
        [str(inputs.binary), *kubelet_args(inputs)],
        bind_address(inputs.address, HEALTHZ_PORT),
        verify,
        depends_on=[names.CONTAINERD],
    )
