"""The control-plane components as supervised services: kube-apiserver (after etcd),
kube-controller-manager and kube-scheduler (after the apiserver).

Every port is bound to the node's own address, so several nodes on one host (container mode
on loopback addresses) do not collide. Health: the apiserver's ``/readyz``, the others'
``/healthz``, over TLS verified with the cluster CA. Before every start the binary is hashed
again (:meth:`ArtifactCache.verify`): a changed binary fails the start and is never executed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from kiln.machined.address import bind_address
from kiln.machined.etcd import SERVICE_NAME as ETCD_SERVICE
from kiln.machined.etcd import EtcdMemberConfig
from kiln.machined.kubernetes.artifacts import ArtifactCache
from kiln.machined.kubernetes.pki import (
    APISERVER_PORT,
    CONTROLLER_MANAGER_PORT,
    SCHEDULER_PORT,
    ControlPlanePaths,
    service_ip,
)
from kiln.machined.kubernetes.versions import Compatibility
from kiln.machined.services import Backoff, RestartPolicy, ServiceSpec, http_get_ok
from kiln.machinery.config.model import MachineConfigDocument
from kiln.machinery.kubernetes import services as names
from kiln.machinery.privatefile import write_private_files

HEALTH_INTERVAL = 5.0
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, configmaps]
  - level: Metadata
"""


@dataclass(frozen=True)
class ControlPlaneInputs:
    """What the three services are made from."""

    document: MachineConfigDocument
    address: str
    compat: Compatibility
    binaries: Mapping[str, Path]
    paths: ControlPlanePaths
    etcd: EtcdMemberConfig
    config_dir: Path
    cache: ArtifactCache


def write_config_files(document: MachineConfigDocument, config_dir: Path) -> None:
    """The encryption-at-rest config (the secretbox key) and the audit policy; blocking."""
    key = document.cluster.secretbox_encryption_secret
    secretbox = {"keys": [{"name": "key1", "secret": key}]}
    encryption = yaml.safe_dump(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [
                {
                    "resources": ["secrets"],
                    "providers": [{"secretbox": secretbox}, {"identity": {}}],
                }
            ],
        }
    )
    (config_dir / "audit").mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_files(
        {config_dir / "encryption.yaml": encryption, config_dir / "audit-policy.yaml": AUDIT_POLICY}
    )


def control_plane_specs(inputs: ControlPlaneInputs) -> list[ServiceSpec]:
    context = ssl.create_default_context(cafile=str(inputs.paths.ca))

    def spec(
        name: str, argv: Sequence[str], depends: str, port: int, path: str, delay: float
    ) -> ServiceSpec:
        binary = inputs.binaries[name]

        async def verify() -> None:
            await asyncio.to_thread(inputs.cache.verify, binary)

        return ServiceSpec(
            name,
            [str(binary), *argv],
            depends_on=[depends],
            restart=RestartPolicy.ALWAYS,
            backoff=Backoff(initial=1.0, cap=30.0),
            health=http_get_ok(
                f"https://{bind_address(inputs.address, port)}{path}",
                context,
                interval=HEALTH_INTERVAL,
                timeout=4.0,
                initial_delay=delay,
            ),
            prepare=verify,
            stop_grace=10.0,
        )

    return [
        spec(names.APISERVER, apiserver_args(inputs), ETCD_SERVICE, APISERVER_PORT, "/readyz", 2),
        spec(
            names.CONTROLLER_MANAGER,
            controller_manager_args(inputs),
            names.APISERVER,
            CONTROLLER_MANAGER_PORT,
            "/healthz",
            1,
        ),
        spec(
            names.SCHEDULER,
            scheduler_args(inputs),
            names.APISERVER,
            SCHEDULER_PORT,
            "/healthz",
            1,
        ),
    ]


def _argv(flags: Mapping[str, str]) -> list[str]:
    return [f"--{name}={value}" for name, value in flags.items()]


def apiserver_args(inputs: ControlPlaneInputs) -> list[str]:
    cluster = inputs.document.cluster
    paths, etcd = inputs.paths, inputs.etcd.certs
    flags = {
        "advertise-address": inputs.address,
        "bind-address": inputs.address,
        "secure-port": str(APISERVER_PORT),
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "enable-admission-plugins": ",".join(inputs.compat.admission_plugins),
        "enable-bootstrap-token-auth": "true",
        "client-ca-file": str(paths.ca),
        "tls-cert-file": str(paths.cert("apiserver")),
        "tls-private-key-file": str(paths.key("apiserver")),
        "kubelet-client-certificate": str(paths.cert("apiserver-kubelet-client")),
        "kubelet-client-key": str(paths.key("apiserver-kubelet-client")),
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "etcd-servers": inputs.etcd.client_url,
        "etcd-cafile": str(etcd.ca),
        "etcd-certfile": str(etcd.client_cert),
        "etcd-keyfile": str(etcd.client_key),
        "service-account-issuer": f"https://kubernetes.default.svc.{cluster.network.dns_domain}",
        "service-account-key-file": str(paths.service_account_public),
        "service-account-signing-key-file": str(paths.service_account_key),
        "service-cluster-ip-range": ",".join(cluster.network.service_subnets),
        "encryption-provider-config": str(inputs.config_dir / "encryption.yaml"),
        "audit-policy-file": str(inputs.config_dir / "audit-policy.yaml"),
        "audit-log-path": str(inputs.config_dir / "audit" / "kube-apiserver.log"),
        "audit-log-maxage": "30",
        "audit-log-maxbackup": "3",
        "audit-log-maxsize": "50",
        "requestheader-client-ca-file": str(paths.file("front-proxy-ca.crt")),
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "proxy-client-cert-file": str(paths.cert("front-proxy-client")),
        "proxy-client-key-file": str(paths.key("front-proxy-client")),
        "profiling": "false",
        **inputs.compat.apiserver_flags,
    }
    return _argv(flags)


def _delegating(inputs: ControlPlaneInputs, component: str, port: int) -> dict[str, str]:
    """Flags kube-controller-manager and kube-scheduler share: their kubeconfig, serving
    certificate, address and leader election."""
    paths = inputs.paths
    kubeconfig = str(paths.kubeconfig(component))
    return {
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": inputs.address,
        "secure-port": str(port),
        "tls-cert-file": str(paths.cert(component)),
        "tls-private-key-file": str(paths.key(component)),
        "client-ca-file": str(paths.ca),
        "requestheader-client-ca-file": str(paths.file("front-proxy-ca.crt")),
        "leader-elect": "true",
        "profiling": "false",
    }


def controller_manager_args(inputs: ControlPlaneInputs) -> list[str]:
    cluster = inputs.document.cluster
    paths = inputs.paths
    flags = {
        **_delegating(inputs, "controller-manager", CONTROLLER_MANAGER_PORT),
        "cluster-name": cluster.name,
        "allocate-node-cidrs": "true",
        "cluster-cidr": ",".join(cluster.network.pod_subnets),
        "service-cluster-ip-range": ",".join(cluster.network.service_subnets),
        "cluster-signing-cert-file": str(paths.ca),
        "cluster-signing-key-file": str(paths.file("ca.key")),
        "controllers": "*,bootstrapsigner,tokencleaner",
        "use-service-account-credentials": "true",
        "service-account-private-key-file": str(paths.service_account_key),
        "root-ca-file": str(paths.ca),
        **inputs.compat.controller_manager_flags,
    }
    return _argv(flags)


def scheduler_args(inputs: ControlPlaneInputs) -> list[str]:
    flags = {
        **_delegating(inputs, "scheduler", SCHEDULER_PORT),
        **inputs.compat.scheduler_flags,
    }
    return _argv(flags)


__all__ = ["ControlPlaneInputs", "control_plane_specs", "service_ip", "write_config_files"]
